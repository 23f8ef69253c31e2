// Generated from the Rust `protocol` crate by `scripts/generate-types`; do not edit.
// Integers are plain numbers: every integer the protocol carries fits a double.
export {};
//# sourceMappingURL=protocol.js.map