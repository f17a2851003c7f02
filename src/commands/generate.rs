//! `latchkey completions SHELL` and `latchkey man`: print what `crate::generate` writes.

use super::print_stdout;
use crate::cli::CompletionsArgs;
use crate::error::Result;

pub fn completions(args: CompletionsArgs) -> Result<()> {
    print_stdout(&crate::generate::completions(args.shell)?)
}

pub fn man() -> Result<()> {
    print_stdout(&crate::generate::man_page())
}
