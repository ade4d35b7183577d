// Placeholder: module Emulator.
