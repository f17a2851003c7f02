//! The `latchkey` binary: parse the command line, run, report the error and exit with its code.

fn main() {
    std::process::exit(latchkey::run_from_env());
}
