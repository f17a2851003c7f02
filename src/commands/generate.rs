//! `latchkey completions SHELL` and `latchkey man`: print what `crate::cli::generate` writes.

use super::print_stdout;
use crate::base::error::Result;
use crate::cli::CompletionsArgs;

pub fn completions(args: CompletionsArgs) -> Result<()> {
    print_stdout(&crate::cli::generate::completions(args.shell)?)
}

pub fn man() -> Result<()> {
    print_stdout(&crate::cli::generate::man_page())
}
