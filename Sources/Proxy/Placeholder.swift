// Placeholder: module Proxy.
