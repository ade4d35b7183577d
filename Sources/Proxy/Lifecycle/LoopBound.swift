/// Carries a loop-thread object through a `@Sendable` closure to be used back on the loop.
///
/// `@unchecked Sendable`: the value is only ever dereferenced inside work run by the loop's
/// executor, i.e. on the loop thread that owns it.
struct LoopBound<Value: AnyObject>: @unchecked Sendable {
    let value: Value
}
