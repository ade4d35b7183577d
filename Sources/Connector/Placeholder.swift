// Placeholder: module Connector.
