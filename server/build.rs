//! Rebuilds the hub when the console's assets change: they are embedded in the binary
//! (`src/http/console.rs`), and a file added to `console/` is otherwise unseen by cargo.

fn main() {
    println!("cargo:rerun-if-changed=../console");
}
