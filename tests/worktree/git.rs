//! The worktree module against the real `git` binary and real temporary
//! repositories: create, a fake agent (a real `sh` process) edits, the
//! changes show it, commit, merge (fast-forward, merge commit, conflict,
//! refusals), discard (with and without unmerged work), find.
//!
//! Every repository configures its own identity; the user's global and
//! system git config are switched off for the whole test process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::time::Instant;

use corral::worktree::{
    self, Created, FileStatus, MergeKind, MergeStrategy, UnmergedWork, Worktree, WorktreeError,
    WorktreeRequest,
};
use tempfile::TempDir;

static ISOLATE: Once = Once::new();

/// Points git away from the user's global and system config.
fn isolate() {
    ISOLATE.call_once(|| {
        // SAFETY: every test calls this first, and `Once` blocks the other
        // test threads until it returns, so no thread reads the environment
        // while it is written (std's own reads take its env lock anyway).
        unsafe {
            std::env::set_var("GIT_CONFIG_GLOBAL", "/dev/null");
            std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
        }
    });
}

/// Runs git in `dir` for test set-up and checks; panics (a test failure)
/// when it fails.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("git runs")
        .status
        .success()
}

/// A fake agent: a real process that edits files in its working directory.
fn agent(dir: &Path, script: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .expect("sh runs");
    assert!(status.success(), "agent script failed: {script}");
}

struct Fixture {
    _tmp: TempDir,
    repo: PathBuf,
    root: PathBuf,
}

impl Fixture {
    /// A repository `proj` on `main` with one commit (`a.txt`, `b.txt`,
    /// `.gitignore` ignoring `.env`), and a worktree root beside it.
    fn new() -> Fixture {
        isolate();
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("proj");
        fs::create_dir(&repo).expect("mkdir");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["config", "user.name", "Test User"]);
        git(&repo, &["config", "user.email", "test@example.invalid"]);
        git(&repo, &["config", "commit.gpgsign", "false"]);
        fs::write(repo.join("a.txt"), "one\ntwo\nthree\n").expect("write");
        fs::write(repo.join("b.txt"), "bee\nbuzz\n").expect("write");
        fs::write(repo.join(".gitignore"), ".env\n").expect("write");
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        let root = tmp.path().join("worktrees");
        Fixture {
            _tmp: tmp,
            repo,
            root,
        }
    }

    fn request(&self, id: &str, title: &str) -> WorktreeRequest {
        WorktreeRequest {
            repo_dir: self.repo.clone(),
            task_short_id: id.to_string(),
            title: title.to_string(),
            root: self.root.clone(),
            setup_command: None,
        }
    }

    fn create(&self, id: &str, title: &str) -> Worktree {
        worktree::create(&self.request(id, title))
            .expect("create")
            .worktree
    }

    fn head(&self) -> String {
        git(&self.repo, &["rev-parse", "HEAD"])
    }

    fn tip(&self, branch: &str) -> String {
        git(&self.repo, &["rev-parse", &format!("refs/heads/{branch}")])
    }

    fn has_branch(&self, branch: &str) -> bool {
        git_ok(
            &self.repo,
            &[
                "show-ref",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ],
        )
    }

    fn main_status(&self) -> String {
        git(&self.repo, &["status", "--porcelain"])
    }
}

#[test]
fn create_makes_a_branch_copies_worktreeinclude_and_runs_setup() {
    let f = Fixture::new();
    fs::write(f.repo.join(".env"), "TOKEN=secret\n").expect("write");
    fs::write(
        f.repo.join(".worktreeinclude"),
        "# local secrets\n.env\n\nmissing.local\n",
    )
    .expect("write");
    let mut req = f.request("t1", "Fix the Login bug!");
    req.setup_command = Some("echo setting up; echo warn >&2; touch setup-ran".into());
    let Created {
        worktree: wt,
        copied,
        notes,
        setup_output,
    } = worktree::create(&req).expect("create");

    assert_eq!(wt.branch, "corral/t1-fix-the-login-bug");
    assert_eq!(wt.base_branch, "main");
    assert_eq!(wt.base_commit, f.head());
    assert_eq!(
        wt.path.file_name().and_then(|n| n.to_str()),
        Some("proj-t1")
    );
    assert!(
        wt.path
            .starts_with(fs::canonicalize(&f.root).expect("root"))
    );
    assert!(f.has_branch(&wt.branch));
    assert_eq!(
        git(&wt.path, &["symbolic-ref", "--short", "HEAD"]),
        wt.branch
    );
    assert_eq!(
        fs::read_to_string(wt.path.join("a.txt")).expect("a"),
        "one\ntwo\nthree\n"
    );

    assert_eq!(copied, vec![PathBuf::from(".env")]);
    assert_eq!(
        fs::read_to_string(wt.path.join(".env")).expect(".env copied"),
        "TOKEN=secret\n"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("missing.local") && n.contains("skipped")),
        "notes: {notes:?}"
    );
    assert!(
        wt.path.join("setup-ran").exists(),
        "setup ran in the worktree"
    );
    let out = setup_output.expect("setup output");
    assert!(out.contains("setting up") && out.contains("warn"), "{out}");

    // The main checkout is untouched.
    assert_eq!(f.main_status(), "?? .worktreeinclude");
}

#[test]
fn failing_setup_is_reported_with_its_output_and_leaves_nothing_behind() {
    let f = Fixture::new();
    let mut req = f.request("t2", "setup fails");
    req.setup_command = Some("echo installing; echo 'npm ERR! missing' >&2; exit 3".into());
    let err = worktree::create(&req).expect_err("setup fails");
    match &err {
        WorktreeError::SetupFailed { status, output, .. } => {
            assert_eq!(status, "exit code 3");
            assert!(output.contains("installing") && output.contains("npm ERR! missing"));
        }
        other => panic!("expected SetupFailed, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("exit code 3") && msg.contains("npm ERR! missing"),
        "{msg}"
    );
    assert!(!f.has_branch("corral/t2-setup-fails"), "branch removed");
    assert!(!f.root.join("proj-t2").exists(), "worktree removed");
    assert!(!git(&f.repo, &["worktree", "list"]).contains("proj-t2"));
}

#[test]
fn an_agents_edits_show_in_changes_with_counts_and_diff_text() {
    let f = Fixture::new();
    let wt = f.create("t3", "edit files");
    assert!(worktree::changes(&wt).expect("changes").files.is_empty());

    agent(
        &wt.path,
        "printf 'four\\nfive\\n' >> a.txt && rm b.txt && printf 'hello\\n' > new.txt \
         && mkdir -p src && printf 'fn main() {}\\n' > src/main.rs && printf '\\000\\001\\002' > blob.bin",
    );
    let ch = worktree::changes(&wt).expect("changes");
    let summary: Vec<(&str, char, u64, u64, bool)> = ch
        .files
        .iter()
        .map(|c| {
            (
                c.path.as_str(),
                c.status.letter(),
                c.added,
                c.deleted,
                c.binary,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a.txt", 'M', 2, 0, false),
            ("b.txt", 'D', 0, 2, false),
            ("blob.bin", 'A', 0, 0, true),
            ("new.txt", 'A', 1, 0, false),
            ("src/main.rs", 'A', 1, 0, false),
        ]
    );
    assert_eq!(ch.file_count(), 5);
    assert_eq!(ch.line_totals(), (4, 2));
    assert_eq!(ch.base, wt.base_commit);
    assert!(!ch.diff_truncated);
    let a = ch.diff_of("a.txt").expect("a.txt section");
    assert!(a.starts_with("diff --git a/a.txt b/a.txt"));
    assert!(a.contains(" three\n+four\n+five\n"), "{a}");
    let b = ch.diff_of("b.txt").expect("b.txt section");
    assert!(
        b.contains("deleted file mode") && b.contains("-bee\n-buzz\n"),
        "{b}"
    );
    let n = ch.diff_of("new.txt").expect("new.txt section");
    assert!(
        n.contains("new file mode") && n.contains("+++ b/new.txt") && n.contains("+hello\n"),
        "{n}"
    );
    assert!(
        ch.diff_of("blob.bin")
            .expect("blob section")
            .contains("Binary files")
    );

    // The summary agrees without the text.
    let s = worktree::change_summary(&wt).expect("summary");
    assert_eq!(s.files, ch.files);
    assert!(s.diff.is_empty());

    // Polling did not stage anything in the worktree's own index, and left
    // no temporary index behind.
    let status = git(&wt.path, &["status", "--porcelain"]);
    assert!(
        status.contains("?? new.txt") && status.contains(" D b.txt"),
        "{status}"
    );
    let git_dir = PathBuf::from(git(&wt.path, &["rev-parse", "--absolute-git-dir"]));
    let leftovers: Vec<_> = fs::read_dir(&git_dir)
        .expect("git dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("corral-index"))
        .collect();
    assert!(leftovers.is_empty(), "temporary index left: {leftovers:?}");
    // The main checkout does not see the agent's work.
    assert_eq!(f.main_status(), "");
}

#[test]
fn a_rename_shows_as_renamed_and_committed_work_still_counts() {
    let f = Fixture::new();
    let wt = f.create("t4", "rename");
    agent(
        &wt.path,
        "git mv b.txt c.txt && git commit -q -m 'rename b'",
    );
    agent(&wt.path, "printf 'x\\n' > untracked.txt");
    let ch = worktree::changes(&wt).expect("changes");
    assert_eq!(ch.files.len(), 2, "{:?}", ch.files);
    assert_eq!(ch.files[0].path, "c.txt");
    assert_eq!(
        ch.files[0].status,
        FileStatus::Renamed {
            from: "b.txt".into()
        }
    );
    assert_eq!(ch.files[1].path, "untracked.txt");
    assert!(ch.diff.contains("rename from b.txt\nrename to c.txt"));
}

#[test]
fn a_file_touched_without_edits_is_not_a_change() {
    let f = Fixture::new();
    let wt = f.create("t21", "touch");
    agent(
        &wt.path,
        "touch -m -d '2001-02-03 04:05:06' a.txt && cp b.txt b.tmp && mv b.tmp b.txt",
    );
    let ch = worktree::changes(&wt).expect("changes");
    assert!(ch.files.is_empty(), "{:?}", ch.files);
    assert!(ch.diff.is_empty(), "{}", ch.diff);
}

#[test]
fn commit_all_commits_everything_once() {
    let f = Fixture::new();
    let wt = f.create("t5", "commit");
    assert_eq!(worktree::commit_all(&wt, "nothing").expect("commit"), None);
    agent(
        &wt.path,
        "echo more >> a.txt && echo new > new.txt && rm b.txt",
    );
    let sha = worktree::commit_all(&wt, "Agent work")
        .expect("commit")
        .expect("a commit");
    assert_eq!(f.tip(&wt.branch), sha);
    assert_eq!(git(&wt.path, &["log", "-1", "--format=%s"]), "Agent work");
    assert_eq!(git(&wt.path, &["status", "--porcelain"]), "");
    assert_eq!(worktree::commit_all(&wt, "again").expect("commit"), None);
    assert!(matches!(
        worktree::commit_all(&wt, "  "),
        Err(WorktreeError::EmptyMessage)
    ));
    // Committed work still shows as the task's changes.
    assert_eq!(worktree::changes(&wt).expect("changes").files.len(), 3);
}

#[test]
fn merge_fast_forwards_the_base_branch() {
    let f = Fixture::new();
    let wt = f.create("t6", "ff");
    agent(&wt.path, "echo four >> a.txt");
    let sha = worktree::commit_all(&wt, "four")
        .expect("commit")
        .expect("sha");
    agent(&wt.path, "echo scratch > notes.txt");
    let before = f.head();
    let out = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect("merge");
    assert_eq!(out.kind, MergeKind::FastForward);
    assert_eq!(out.base_before, before);
    assert_eq!(out.base_after, sha);
    assert_eq!(f.head(), sha);
    assert_eq!(
        fs::read_to_string(f.repo.join("a.txt")).expect("a"),
        "one\ntwo\nthree\nfour\n"
    );
    // The uncommitted scratch file was not merged, and the outcome says so.
    assert_eq!(out.left_uncommitted.len(), 1);
    assert_eq!(out.left_uncommitted[0].path, "notes.txt");
    assert!(!f.repo.join("notes.txt").exists());
    // After the merge only the unmerged scratch file is the task's change.
    let ch = worktree::changes(&wt).expect("changes");
    let paths: Vec<&str> = ch.files.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["notes.txt"]);
    // Merging again changes nothing.
    let again = worktree::merge(&wt, MergeStrategy::MergeCommit).expect("merge");
    assert_eq!(again.kind, MergeKind::AlreadyUpToDate);
    assert_eq!(f.head(), sha);
}

#[test]
fn merge_creates_a_merge_commit_when_the_base_moved() {
    let f = Fixture::new();
    let wt = f.create("t7", "merge commit");
    agent(&wt.path, "echo task > task.txt");
    let task_sha = worktree::commit_all(&wt, "task")
        .expect("commit")
        .expect("sha");
    fs::write(f.repo.join("main.txt"), "main\n").expect("write");
    git(&f.repo, &["add", "main.txt"]);
    git(&f.repo, &["commit", "-q", "-m", "main moved"]);
    let moved = f.head();

    let err = worktree::merge(&wt, MergeStrategy::FastForwardOnly).expect_err("not ff");
    assert!(
        matches!(err, WorktreeError::NotFastForward { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot fast-forward main"));
    assert_eq!(f.head(), moved);

    let out = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect("merge");
    assert_eq!(out.kind, MergeKind::MergeCommit);
    let parents = git(&f.repo, &["log", "-1", "--format=%P"]);
    assert_eq!(parents, format!("{moved} {task_sha}"));
    assert!(f.repo.join("task.txt").exists() && f.repo.join("main.txt").exists());
    assert_eq!(f.main_status(), "");
    assert_eq!(f.tip(&wt.branch), task_sha, "the task branch is unchanged");
}

#[test]
fn merge_commit_strategy_never_fast_forwards() {
    let f = Fixture::new();
    let wt = f.create("t8", "no ff");
    agent(&wt.path, "echo task > task.txt");
    let task_sha = worktree::commit_all(&wt, "task")
        .expect("commit")
        .expect("sha");
    let out = worktree::merge(&wt, MergeStrategy::MergeCommit).expect("merge");
    assert_eq!(out.kind, MergeKind::MergeCommit);
    assert_ne!(f.head(), task_sha);
    assert_eq!(
        git(&f.repo, &["log", "-1", "--format=%P"]),
        format!("{} {task_sha}", out.base_before)
    );
}

#[test]
fn a_conflict_is_aborted_and_reported_with_both_branches_intact() {
    let f = Fixture::new();
    let wt = f.create("t9", "conflict");
    agent(
        &wt.path,
        "printf 'one\\nTASK\\nthree\\n' > a.txt && echo ok > other.txt",
    );
    let task_sha = worktree::commit_all(&wt, "task edit")
        .expect("commit")
        .expect("sha");
    fs::write(f.repo.join("a.txt"), "one\nMAIN\nthree\n").expect("write");
    git(&f.repo, &["commit", "-q", "-am", "main edit"]);
    let main_sha = f.head();

    let err = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect_err("conflict");
    match &err {
        WorktreeError::Conflict { paths, .. } => assert_eq!(paths, &vec!["a.txt".to_string()]),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(err.to_string().contains("conflicts in a.txt"));
    assert_eq!(f.head(), main_sha, "base branch unchanged");
    assert_eq!(f.tip(&wt.branch), task_sha, "task branch unchanged");
    assert_eq!(f.main_status(), "", "base checkout clean after the abort");
    assert!(!git_ok(
        &f.repo,
        &["rev-parse", "-q", "--verify", "MERGE_HEAD"]
    ));
    assert_eq!(
        fs::read_to_string(f.repo.join("a.txt")).expect("a"),
        "one\nMAIN\nthree\n"
    );
    assert_eq!(
        fs::read_to_string(wt.path.join("a.txt")).expect("a"),
        "one\nTASK\nthree\n"
    );
}

#[test]
fn merge_is_refused_on_a_dirty_base() {
    let f = Fixture::new();
    let wt = f.create("t10", "dirty");
    agent(&wt.path, "echo task > task.txt");
    let task_sha = worktree::commit_all(&wt, "task")
        .expect("commit")
        .expect("sha");
    fs::write(f.repo.join("b.txt"), "user edit\n").expect("write");
    let before = f.head();
    let err = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect_err("dirty");
    match &err {
        WorktreeError::DirtyBase { paths, .. } => assert_eq!(paths, &vec!["b.txt".to_string()]),
        other => panic!("expected DirtyBase, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("uncommitted changes to tracked files (b.txt)")
    );
    assert_eq!(f.head(), before);
    assert_eq!(
        fs::read_to_string(f.repo.join("b.txt")).expect("b"),
        "user edit\n"
    );

    // An untracked file in the base checkout does not block the merge.
    git(&f.repo, &["checkout", "--", "b.txt"]);
    fs::write(f.repo.join("scratch.txt"), "mine\n").expect("write");
    let out = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect("merge");
    assert_eq!(out.kind, MergeKind::FastForward);
    assert_eq!(f.head(), task_sha);
    assert!(f.repo.join("scratch.txt").exists());
}

#[test]
fn a_merge_that_would_overwrite_an_untracked_file_fails_without_loss() {
    let f = Fixture::new();
    let wt = f.create("t22", "untracked in the way");
    agent(&wt.path, "echo task > notes.txt");
    let task_sha = worktree::commit_all(&wt, "task notes")
        .expect("commit")
        .expect("sha");
    fs::write(f.repo.join("notes.txt"), "the user's own notes\n").expect("write");
    let before = f.head();
    let err = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect_err("refused");
    assert!(matches!(err, WorktreeError::Git { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("untracked working tree files would be overwritten"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(f.repo.join("notes.txt")).expect("notes"),
        "the user's own notes\n"
    );
    assert_eq!(f.head(), before);
    assert_eq!(f.tip(&wt.branch), task_sha);
    assert!(!git_ok(
        &f.repo,
        &["rev-parse", "-q", "--verify", "MERGE_HEAD"]
    ));
}

#[test]
fn merge_is_refused_unless_the_base_branch_is_checked_out() {
    let f = Fixture::new();
    let wt = f.create("t11", "detached");
    agent(&wt.path, "echo task > task.txt");
    worktree::commit_all(&wt, "task").expect("commit");

    git(&f.repo, &["checkout", "-q", "--detach"]);
    let err = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect_err("detached");
    assert!(
        matches!(&err, WorktreeError::BaseNotCheckedOut { head: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("detached HEAD"), "{err}");

    git(&f.repo, &["checkout", "-q", "-b", "other"]);
    let err = worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect_err("other branch");
    assert!(
        err.to_string()
            .contains("has branch other checked out; switch it to main"),
        "{err}"
    );
    assert!(!f.repo.join("task.txt").exists());
    assert_eq!(f.tip("main"), wt.base_commit, "main unchanged");
}

#[test]
fn create_is_refused_on_a_detached_head_and_an_existing_branch() {
    let f = Fixture::new();
    f.create("t12", "first");
    let err = worktree::create(&f.request("t12", "first")).expect_err("exists");
    assert!(matches!(err, WorktreeError::BranchExists { .. }), "{err:?}");
    assert!(err.to_string().contains("corral/t12-first already exists"));

    git(&f.repo, &["checkout", "-q", "--detach"]);
    let err = worktree::create(&f.request("t13", "second")).expect_err("detached");
    assert!(matches!(err, WorktreeError::DetachedHead { .. }), "{err:?}");
    assert!(err.to_string().contains("needs a base branch"), "{err}");
    assert!(!f.root.join("proj-t13").exists());

    let err = worktree::create(&f.request("bad/id", "x")).expect_err("bad id");
    assert!(
        matches!(err, WorktreeError::InvalidTaskId { .. }),
        "{err:?}"
    );
}

#[test]
fn not_a_repository_names_the_directory() {
    isolate();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("plain");
    fs::create_dir(&dir).expect("mkdir");
    let req = WorktreeRequest {
        repo_dir: dir.clone(),
        task_short_id: "t1".into(),
        title: "x".into(),
        root: tmp.path().join("wts"),
        setup_command: None,
    };
    let err = worktree::create(&req).expect_err("not a repo");
    assert!(
        matches!(err, WorktreeError::NotARepository { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(msg.contains("is not inside a git repository"), "{msg}");
    assert!(!tmp.path().join("wts").exists(), "nothing created");

    let err = worktree::find(&tmp.path().join("nope"), "corral/x").expect_err("missing dir");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn discard_without_unmerged_work_removes_worktree_and_branch() {
    let f = Fixture::new();
    let wt = f.create("t14", "throwaway");
    let work = worktree::unmerged_work(&wt).expect("unmerged");
    assert!(work.is_empty(), "{work:?}");
    worktree::discard(&wt, &UnmergedWork::default()).expect("discard");
    assert!(!wt.path.exists());
    assert!(!f.has_branch(&wt.branch));
    assert!(!git(&f.repo, &["worktree", "list"]).contains("proj-t14"));
    // The recorded base went away with the branch.
    assert!(!git_ok(
        &f.repo,
        &["config", "--get", "branch.corral/t14-throwaway.corralbase"]
    ));
}

#[test]
fn discard_is_refused_when_the_confirmed_work_is_stale() {
    let f = Fixture::new();
    let wt = f.create("t15", "stale");
    agent(&wt.path, "echo one > one.txt");
    worktree::commit_all(&wt, "first").expect("commit");
    let tip = f.tip(&wt.branch);

    // Confirming "nothing" does not discard a commit.
    let err = worktree::discard(&wt, &UnmergedWork::default()).expect_err("refused");
    assert!(
        matches!(err, WorktreeError::StaleConfirmation { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("1 unmerged commit, 0 uncommitted changes"),
        "{err}"
    );

    // The user confirms what is shown; then the agent writes one more file.
    let shown = worktree::unmerged_work(&wt).expect("unmerged");
    agent(&wt.path, "echo late > late.txt");
    let err = worktree::discard(&wt, &shown).expect_err("stale");
    match &err {
        WorktreeError::StaleConfirmation { current } => {
            assert_eq!(current.uncommitted.len(), 1);
            assert_eq!(current.uncommitted[0].path, "late.txt");
        }
        other => panic!("expected StaleConfirmation, got {other:?}"),
    }
    assert!(wt.path.join("late.txt").exists());
    assert!(wt.path.join("one.txt").exists());
    assert_eq!(f.tip(&wt.branch), tip);
}

#[test]
fn discard_with_unmerged_commits_after_confirmation_removes_everything() {
    let f = Fixture::new();
    let wt = f.create("t16", "unmerged");
    agent(&wt.path, "echo one > one.txt");
    let first = worktree::commit_all(&wt, "First step")
        .expect("commit")
        .expect("sha");
    agent(&wt.path, "echo two > two.txt");
    let second = worktree::commit_all(&wt, "Second step")
        .expect("commit")
        .expect("sha");
    agent(&wt.path, "echo wip >> a.txt && echo draft > draft.txt");

    let work = worktree::unmerged_work(&wt).expect("unmerged");
    let commits: Vec<(&str, &str)> = work
        .commits
        .iter()
        .map(|c| (c.sha.as_str(), c.subject.as_str()))
        .collect();
    assert_eq!(
        commits,
        vec![
            (second.as_str(), "Second step"),
            (first.as_str(), "First step")
        ]
    );
    let uncommitted: Vec<(&str, &str)> = work
        .uncommitted
        .iter()
        .map(|u| (u.status.as_str(), u.path.as_str()))
        .collect();
    assert_eq!(uncommitted, vec![(" M", "a.txt"), ("??", "draft.txt")]);

    worktree::discard(&wt, &work).expect("discard");
    assert!(!wt.path.exists());
    assert!(!f.has_branch(&wt.branch));
    assert_eq!(f.head(), wt.base_commit, "the base branch is untouched");
}

#[test]
fn merged_work_is_not_unmerged() {
    let f = Fixture::new();
    let wt = f.create("t17", "merged");
    agent(&wt.path, "echo x > x.txt");
    worktree::commit_all(&wt, "x").expect("commit");
    assert_eq!(worktree::unmerged_work(&wt).expect("work").commits.len(), 1);
    worktree::merge(&wt, MergeStrategy::FastForwardOrMerge).expect("merge");
    assert!(worktree::unmerged_work(&wt).expect("work").is_empty());
    worktree::discard(&wt, &UnmergedWork::default()).expect("discard");
    assert!(f.repo.join("x.txt").exists(), "merged work stays on main");
}

#[test]
fn find_reopens_a_worktree_after_a_restart() {
    let f = Fixture::new();
    let wt = f.create("t18", "find me");
    let sub = f.repo.join("sub");
    fs::create_dir(&sub).expect("mkdir");
    let found = worktree::find(&sub, &wt.branch)
        .expect("find")
        .expect("found");
    assert_eq!(found, wt);
    assert_eq!(worktree::find(&f.repo, "corral/none").expect("find"), None);

    // A branch corral did not create is reported as such.
    git(&f.repo, &["branch", "plain"]);
    let other = f.root.join("plain-wt");
    git(
        &f.repo,
        &["worktree", "add", "-q", &other.to_string_lossy(), "plain"],
    );
    let err = worktree::find(&f.repo, "plain").expect_err("not corral's");
    assert!(
        matches!(err, WorktreeError::NotCorralBranch { .. }),
        "{err:?}"
    );
}

#[test]
fn a_worktree_deleted_by_hand_can_still_be_discarded() {
    let f = Fixture::new();
    let wt = f.create("t19", "gone");
    fs::remove_dir_all(&wt.path).expect("rm");
    assert!(matches!(
        worktree::changes(&wt),
        Err(WorktreeError::WorktreeMissing { .. })
    ));
    let work = worktree::unmerged_work(&wt).expect("work");
    assert!(work.is_empty());
    worktree::discard(&wt, &work).expect("discard");
    assert!(!f.has_branch(&wt.branch));
    assert!(!git(&f.repo, &["worktree", "list", "--porcelain"]).contains("proj-t19"));
}

#[test]
fn changes_on_a_thousand_file_repository_is_cheap() {
    let f = Fixture::new();
    for d in 0..20 {
        let dir = f.repo.join(format!("dir{d:02}"));
        fs::create_dir(&dir).expect("mkdir");
        for i in 0..50 {
            fs::write(
                dir.join(format!("file{i:02}.rs")),
                format!("// {d} {i}\nfn f() {{}}\n"),
            )
            .expect("write");
        }
    }
    git(&f.repo, &["add", "-A"]);
    git(&f.repo, &["commit", "-q", "-m", "1000 files"]);
    let wt = f.create("t20", "big");
    agent(
        &wt.path,
        "for i in 00 01 02 03 04 05 06 07 08 09; do echo edit >> dir03/file$i.rs; echo new > dir07/new$i.rs; done",
    );
    let runs = 10;
    let start = Instant::now();
    let mut last = None;
    for _ in 0..runs {
        last = Some(worktree::changes(&wt).expect("changes"));
    }
    let per_call = start.elapsed() / runs;
    let start = Instant::now();
    for _ in 0..runs {
        worktree::change_summary(&wt).expect("summary");
    }
    let summary_per_call = start.elapsed() / runs;
    let ch = last.expect("ran");
    assert_eq!(ch.files.len(), 20);
    assert_eq!(ch.line_totals(), (20, 0));
    eprintln!(
        "changes() on 1002 tracked files with 20 changed: {per_call:?} a call; change_summary(): {summary_per_call:?}"
    );
}
