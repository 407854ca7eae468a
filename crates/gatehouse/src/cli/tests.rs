//! The command line's own checks: every command and argument explains itself in `--help`.

#![cfg(test)]

use std::collections::BTreeSet;

use clap::CommandFactory as _;

use super::Cli;

/// Walks the command tree; every subcommand has an about line and every argument (flags,
/// options and positionals, global ones included) a help text.
#[test]
fn every_command_and_argument_has_help() {
    let mut cli = Cli::command();
    cli.build();
    let mut missing = BTreeSet::new();
    walk(&cli, "gatehouse", &mut missing);
    assert!(missing.is_empty(), "without help text:\n{}", missing.into_iter().collect::<Vec<_>>().join("\n"));
}

fn walk(command: &clap::Command, path: &str, missing: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            let name = arg.get_long().map_or_else(|| format!("<{}>", arg.get_id()), |long| format!("--{long}"));
            missing.insert(format!("{path} {name}"));
        }
    }
    for sub in command.get_subcommands() {
        let sub_path = format!("{path} {}", sub.get_name());
        if sub.get_about().is_none() && sub.get_long_about().is_none() {
            missing.insert(sub_path.clone());
        }
        walk(sub, &sub_path, missing);
    }
}
