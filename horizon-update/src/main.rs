//! `horizon-update`: updates the OSTree base system and the containers together, with rollback
//! (`--all`, `--containers`, `--check`, `--rollback` in the spec). Its commands land with the
//! horizon-update issue; until then the binary only parses its command line.

use clap::Parser;

/// Update HorizonOS: the immutable base system and its containers, recorded together so that one
/// rollback restores both.
#[derive(Debug, Parser)]
#[command(name = "horizon-update", version, arg_required_else_help = true)]
struct Cli {}

fn main() {
    let _ = Cli::parse();
}
