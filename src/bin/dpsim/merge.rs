//! `dpsim merge`: the shards of one chaos sweep or one verify search, run on several machines,
//! into the result one run gives. What a directory holds says which: `dpsim chaos` writes a
//! `summary.json`, `dpsim verify` a `verify.json`.

use std::path::{Path, PathBuf};

use super::run::EXIT_INVALID;

/// Runs `dpsim merge` (also `dpsim chaos-merge`); returns the exit status of the command whose
/// shards these are.
pub fn run(dirs: &[PathBuf], out: Option<&Path>) -> u8 {
    let holds = |file: &str| dirs.iter().filter(|d| d.join(file).is_file()).count();
    let (chaos, verify) = (holds("summary.json"), holds("verify.json"));
    if chaos == dirs.len() && verify == 0 {
        return super::chaos::merge(dirs, out.unwrap_or(Path::new("chaos-out/merged")));
    }
    if verify == dirs.len() && chaos == 0 {
        return super::verify::merge(dirs, out.unwrap_or(Path::new("verify-out/merged")));
    }
    for dir in dirs {
        let files = ["summary.json", "verify.json"].map(|f| dir.join(f).is_file());
        let what = match files {
            [false, false] => "neither a summary.json (dpsim chaos) nor a verify.json (dpsim verify)",
            [true, true] => "both a summary.json and a verify.json: which run's shard it is is unclear",
            [true, false] => "a chaos summary.json",
            [false, true] => "a verify.json",
        };
        eprintln!("dpsim: {} holds {what}", dir.display());
    }
    eprintln!("dpsim: merge needs the directories of every shard of one `dpsim chaos` or one `dpsim verify` run");
    EXIT_INVALID
}
