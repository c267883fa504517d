//! The CLI turns core dumps off for itself: soft RLIMIT_CORE 0 and (Linux) not dumpable.
//! In its own test binary, since it changes the whole process.

#[cfg(unix)]
#[test]
fn core_dumps_are_off_after_hardening() {
    use rustix::process::{Resource, getrlimit};
    let hard_before = getrlimit(Resource::Core).maximum;
    strongroom_cli::harden_process().expect("hardening works");
    let now = getrlimit(Resource::Core);
    assert_eq!(now.current, Some(0), "soft core limit is 0");
    assert_eq!(now.maximum, hard_before, "the hard limit is left as it was");
    #[cfg(target_os = "linux")]
    assert_eq!(
        rustix::process::dumpable_behavior().expect("PR_GET_DUMPABLE"),
        rustix::process::DumpableBehavior::NotDumpable
    );
}
