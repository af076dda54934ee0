//! Without a `git` on PATH the worktree module says so instead of failing
//! obscurely. Its own test binary (one test, one thread), because it changes
//! PATH for the whole process.

use corral::worktree::{self, WorktreeError, WorktreeRequest};

#[test]
fn a_missing_git_is_reported_as_such() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let empty_bin = tmp.path().join("bin");
    std::fs::create_dir(&empty_bin).expect("mkdir");
    // SAFETY: this binary has this single test and no other threads that
    // read the environment.
    unsafe { std::env::set_var("PATH", &empty_bin) };
    let req = WorktreeRequest {
        repo_dir: tmp.path().to_path_buf(),
        task_short_id: "t1".into(),
        title: "no git".into(),
        root: tmp.path().join("wts"),
        setup_command: None,
    };
    let err = worktree::create(&req).expect_err("no git");
    assert!(matches!(err, WorktreeError::GitMissing), "{err:?}");
    assert!(
        err.to_string().contains("git was not found on PATH"),
        "{err}"
    );
}
