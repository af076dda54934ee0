//! The `corral` binary: parses the command line and hands off to a front end.

fn main() {
    println!("corral");
}
