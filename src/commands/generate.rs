//! `latchkey completions SHELL` and `latchkey man`: print what `crate::cli::completions` and `crate::cli::man` write.

use super::print_stdout;
use crate::base::error::Result;
use crate::cli::CompletionsArgs;

pub fn completions(args: CompletionsArgs) -> Result<()> {
    print_stdout(&crate::cli::completions::completions(args.shell)?)
}

pub fn man() -> Result<()> {
    print_stdout(&crate::cli::man::man_page())
}
