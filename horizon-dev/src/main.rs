//! `horizon-dev`: the development-container helper (`horizon-dev shell`, `horizon-dev gcc
//! --version`, `horizon-dev setup rust` in the spec). Its commands land with the horizon-dev issue;
//! until then the binary only parses its command line.

use clap::Parser;

/// Work inside the HorizonOS development container: open a shell, run a tool, set up a toolchain.
#[derive(Debug, Parser)]
#[command(name = "horizon-dev", version, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
