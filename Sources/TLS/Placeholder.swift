// Placeholder: module TLS.
