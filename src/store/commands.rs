//! `corral ls`, `corral logs` and `corral rm`: the store from the command
//! line, safe to use while other corrals (a TUI, `corral run`) write to it.
//!
//! Reads records and event files as they are (whole, thanks to atomic
//! renames; a torn last event line is skipped). Only `rm` changes anything,
//! and it refuses a running task unless forced. Never prints agent text
//! unsanitized: the transcript goes through the describer's printer.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::json;

use super::proc::{self, OrphanOutcome};
use super::{Store, TaskRecord, now_ms};
use crate::agent::sanitize::escape_json_output;
use crate::core::event::AgentEvent;
use crate::core::task::TaskStatus;
use crate::describe::printer::Printer;
use crate::present;

/// How often `corral logs --follow` looks for new events (it polls: portable
/// and cheap at this rate; no inotify dependency).
pub const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// The `corral ls` table, newest last. Archived tasks only with `all`.
pub fn ls_table(records: &[TaskRecord], all: bool, now: u64) -> String {
    let mut rows: Vec<[String; 8]> = vec![[
        "ID".into(),
        "STATUS".into(),
        "AGENT".into(),
        "AGE".into(),
        "DURATION".into(),
        "TOKENS".into(),
        "COST".into(),
        "TITLE".into(),
    ]];
    for r in records.iter().filter(|r| all || !r.archived) {
        let mut status = r.effective_status().name().to_string();
        if r.archived {
            status.push_str(" (archived)");
        }
        rows.push([
            r.id.clone(),
            status,
            r.profile.clone().unwrap_or_else(|| r.agent.clone()),
            present::duration(now.saturating_sub(r.created_ms)),
            r.duration_ms(now)
                .map(present::duration)
                .unwrap_or_else(|| "-".into()),
            present::tokens(r.tokens()),
            r.usage
                .cost_usd
                .map(present::cost)
                .unwrap_or_else(|| "-".into()),
            present::safe_text(&present::truncate(&r.title, 60)),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The `corral ls --json` array.
pub fn ls_json(records: &[TaskRecord], all: bool) -> serde_json::Value {
    let items: Vec<serde_json::Value> = records
        .iter()
        .filter(|r| all || !r.archived)
        .map(|r| {
            json!({
                "id": r.id,
                "title": r.title,
                "agent": r.agent,
                "profile": r.profile,
                "status": r.effective_status().name(),
                "archived": r.archived,
                "created_ms": r.created_ms,
                "started_ms": r.started_ms,
                "finished_ms": r.finished_ms,
                "updated_ms": r.updated_ms,
                "session_id": r.session_id,
                "cwd": r.cwd,
                "input_tokens": r.usage.input_tokens,
                "output_tokens": r.usage.output_tokens,
                "tokens": r.tokens(),
                "cost_usd": r.usage.cost_usd,
                "finish_reason": r.finish_reason,
                "pending_question": r.pending_question.is_some(),
                "killed_outside_group": r.exit.as_ref().and_then(|e| e.killed_outside()),
                "worktree": r.worktree.as_ref().map(|w| &w.path),
                "branch": r.worktree.as_ref().map(|w| &w.branch),
            })
        })
        .collect();
    serde_json::Value::Array(items)
}

/// `corral ls`.
pub fn ls(store: &Store, json: bool, all: bool, out: &mut dyn Write) -> Result<()> {
    let (records, problems) = store.list();
    for problem in problems {
        eprintln!("corral: skipping a damaged task: {problem}");
    }
    print_ls(&records, json, all, out)
}

/// Prints `records` as `corral ls` does (a table, or JSON).
pub fn print_ls(records: &[TaskRecord], json: bool, all: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            escape_json_output(serde_json::to_string_pretty(&ls_json(records, all))?)
        )?;
    } else {
        out.write_all(ls_table(records, all, now_ms()).as_bytes())?;
    }
    Ok(())
}

/// Writes the events of `text` (whole lines only) to `out`, as JSON lines
/// or through the printer. Returns the bytes consumed (up to the last `\n`).
fn emit_lines(text: &str, json: bool, printer: &mut Printer, out: &mut dyn Write) -> Result<usize> {
    let Some(end) = text.rfind('\n') else {
        return Ok(0);
    };
    for line in text[..end].lines().filter(|l| !l.trim().is_empty()) {
        let Ok(event) = serde_json::from_str::<AgentEvent>(line) else {
            continue;
        };
        if json {
            writeln!(
                out,
                "{}",
                escape_json_output(serde_json::to_string(&event)?)
            )?;
        } else {
            out.write_all(printer.render(&event).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(end + 1)
}

/// Whether a task may still produce events.
fn active(record: &TaskRecord) -> bool {
    matches!(
        record.effective_status(),
        TaskStatus::Queued | TaskStatus::Running | TaskStatus::Blocked
    )
}

/// Reads what was appended to `path` since `offset` into `pending`.
fn read_more(path: &std::path::Path, offset: &mut u64, pending: &mut String) -> Result<()> {
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(());
    };
    file.seek(SeekFrom::Start(*offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    *offset += bytes.len() as u64;
    // Lossy on purpose: damage must not stop the output.
    pending.push_str(&String::from_utf8_lossy(&bytes));
    Ok(())
}

/// `corral logs ID`: every run's events, readable or as JSON lines; with
/// `follow`, keeps printing new events (polling every [`FOLLOW_POLL`])
/// until the task is over.
pub fn logs(
    store: &Store,
    prefix: &str,
    json: bool,
    follow: bool,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut record = store.find(prefix)?;
    let id = record.id.clone();
    let mut printer = Printer::new(color);
    let mut run = 1;
    let mut offset = 0u64;
    let mut pending = String::new();
    loop {
        let path = store.events_path(&id, run);
        read_more(&path, &mut offset, &mut pending)?;
        let used = emit_lines(&pending, json, &mut printer, out)?;
        pending.drain(..used);
        if run < record.runs {
            // This run is over (a later one started): flush a torn last
            // line, if it parses, and go on with the next run.
            if !pending.trim().is_empty() {
                pending.push('\n');
                emit_lines(&pending, json, &mut printer, out)?;
            }
            pending.clear();
            run += 1;
            offset = 0;
            continue;
        }
        if !follow || !active(&record) {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
        record = match store.load(&id) {
            Ok(r) => r,
            // Deleted meanwhile.
            Err(_) => return Ok(()),
        };
        if !active(&record) && run >= record.runs {
            // Over: one last read for what was appended before it ended.
            read_more(&path, &mut offset, &mut pending)?;
            let used = emit_lines(&pending, json, &mut printer, out)?;
            pending.drain(..used);
            return Ok(());
        }
    }
}

/// `corral rm ID`: deletes a finished task; a running one only with
/// `force`, which first kills its agent group (after checking it is still
/// the recorded one).
pub fn rm(store: &Store, prefix: &str, force: bool) -> Result<String> {
    let record = store.find(prefix)?;
    let status = record.effective_status();
    if !status.is_final() && !force {
        bail!(
            "task {} is {}; use --force to kill it and remove it",
            record.id,
            status.name()
        );
    }
    if !record.status.is_final()
        && let Some(group) = &record.agent_group
    {
        match proc::kill_orphan_group(group) {
            OrphanOutcome::Killed { survivors, .. } if survivors > 0 => {
                bail!(
                    "task {}: {survivors} process(es) of its agent survived SIGKILL; not removed",
                    record.id
                );
            }
            _ => {}
        }
    }
    store.delete(&record.id)?;
    Ok(record.id)
}
