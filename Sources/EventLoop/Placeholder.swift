// Placeholder: module EventLoop.
