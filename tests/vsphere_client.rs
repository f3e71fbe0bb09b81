//! The vSphere client against vcsim (a real vSphere SOAP API, simulated) and the OVA
//! fetch against an in-process HTTP server: import → a template with the build, missing
//! locations named, wrong password / nothing listening / untrusted certificate explained,
//! the download cache, sha256 refusal, resume, and failed imports leaving nothing behind.
//! Skips visibly without vcsim (tests/vcsim/mod.rs).

mod vcsim;

use ocp_bootimage::vsphere::{
    fetch_ova, ImportRequest, Location, Ova, OvaError, OvaSource, Session, VsphereError, BUILD_KEY,
};
use vcsim::{default_location, make_ova, FileServer, Spoil, Vcsim};

const BUILD: &str = "9.6.20250121-0";

async fn local_ova(dir: &std::path::Path, bytes: u64, spoil: Spoil) -> Ova {
    let (path, sha) = make_ova(dir, "test.ova", bytes, 7, spoil);
    let (ova, report) = fetch_ova(
        &OvaSource::Path(path),
        Some(&sha),
        &dir.join("cache"),
        true,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(ova.sha256, sha);
    assert_eq!(report.downloaded_bytes, 0);
    ova
}

fn request(name: &str) -> ImportRequest {
    ImportRequest {
        location: default_location(),
        name: name.into(),
        build: BUILD.into(),
        thin: true,
    }
}

#[tokio::test]
async fn import_makes_a_template_carrying_the_build() {
    let Some(sim) = Vcsim::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ova = local_ova(dir.path(), 1 << 20, Spoil::None).await;
    let s = sim.session().await;
    let mut seen = Vec::new();
    let info = s
        .import_template(&request("rhcos-a"), &ova, &mut |d, t| seen.push((d, t)))
        .await
        .unwrap();
    assert_eq!(info.path, "/DC0/vm/rhcos-a");
    assert!(info.is_template);
    assert_eq!(info.build.as_deref(), Some(BUILD));
    assert_eq!(info.datastores, vec!["LocalDS_0".to_string()]);
    assert_eq!(
        seen.last(),
        Some(&(1 << 20, 1 << 20)),
        "progress ends at the total"
    );
    // What vCenter holds now, read again.
    let found = s.find_vm("/DC0/vm/rhcos-a").await.unwrap().unwrap();
    assert_eq!(found, info);
    assert!(s
        .vms_in_folder("/DC0/vm")
        .await
        .unwrap()
        .contains(&"rhcos-a".to_string()));
    // A second import of the same name is refused, not overwritten.
    let again = s
        .import_template(&request("rhcos-a"), &ova, &mut |_, _| {})
        .await;
    assert!(
        matches!(again, Err(VsphereError::Exists { ref path }) if path == "/DC0/vm/rhcos-a"),
        "{again:?}"
    );
    // Thick provisioning and a datastore given by path work too.
    let mut thick = request("rhcos-thick");
    thick.thin = false;
    thick.location.datastore = "/DC0/datastore/LocalDS_0".into();
    let t = s
        .import_template(&thick, &ova, &mut |_, _| {})
        .await
        .unwrap();
    assert!(t.is_template);
    s.logout().await.unwrap();
}

#[tokio::test]
async fn find_vm_of_an_absent_path_is_none_and_destroy_reports_whether_it_deleted() {
    let Some(sim) = Vcsim::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ova = local_ova(dir.path(), 4096, Spoil::None).await;
    let s = sim.session().await;
    assert_eq!(s.find_vm("/DC0/vm/nothing-here").await.unwrap(), None);
    s.import_template(&request("rhcos-d"), &ova, &mut |_, _| {})
        .await
        .unwrap();
    assert!(s.destroy_vm("/DC0/vm/rhcos-d").await.unwrap());
    assert_eq!(s.find_vm("/DC0/vm/rhcos-d").await.unwrap(), None);
    assert!(!s.destroy_vm("/DC0/vm/rhcos-d").await.unwrap());
}

#[tokio::test]
async fn check_location_names_the_first_missing_part() {
    let Some(sim) = Vcsim::start() else { return };
    let s = sim.session().await;
    s.check_location(&default_location()).await.unwrap();
    // A cluster's path stands for its root pool; names relative to the datacenter.
    let mut relative = default_location();
    relative.resource_pool = "DC0_C0".into();
    relative.folder = "".into();
    s.check_location(&relative).await.unwrap();
    type Case = (fn(&mut Location), &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (|l| l.datacenter = "DC9".into(), "datacenter", "/DC9"),
        (|l| l.datastore = "nope-ds".into(), "datastore", "nope-ds"),
        (
            |l| l.datastore = "/DC0/datastore/nope".into(),
            "datastore",
            "/DC0/datastore/nope",
        ),
        (
            |l| l.folder = "/DC0/vm/nope".into(),
            "folder",
            "/DC0/vm/nope",
        ),
        (
            |l| l.resource_pool = "/DC0/host/nope/Resources".into(),
            "resource pool",
            "/DC0/host/nope/Resources",
        ),
        (
            |l| l.network = Some("nope-net".into()),
            "network",
            "nope-net",
        ),
    ];
    for (spoil, what, path) in cases {
        let mut l = default_location();
        spoil(&mut l);
        let err = s.check_location(&l).await.unwrap_err();
        match &err {
            VsphereError::NotFound { what: w, path: p } => {
                assert_eq!((w.as_str(), p.as_str()), (what, path), "{err}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(err.to_string().contains(path), "{err}");
    }
    // A folder path that names a datacenter is no folder.
    let mut l = default_location();
    l.folder = "/DC0".into();
    let err = s.check_location(&l).await.unwrap_err().to_string();
    assert!(err.contains("folder /DC0 (a Datacenter is there)"), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_an_invalid_login_that_does_not_show_the_password() {
    let Some(sim) = Vcsim::start() else { return };
    let mut c = sim.credentials();
    let wrong = "Secret-Wrong-Passw0rd";
    c.password = wrong.to_string().into();
    let err = Session::login(&c).await.unwrap_err();
    assert!(matches!(err, VsphereError::InvalidLogin { .. }), "{err:?}");
    let text = format!("{err} {err:?} {c:?}");
    assert!(text.contains(&sim.username), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!text.contains(&sim.password), "{text}");
}

#[tokio::test]
async fn an_untrusted_certificate_names_validate_certs() {
    let Some(sim) = Vcsim::start() else { return };
    let mut c = sim.credentials();
    c.validate_certs = true;
    let err = Session::login(&c).await.unwrap_err();
    assert!(matches!(err, VsphereError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("validate_certs"), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_unreachable_naming_refused() {
    let c = ocp_bootimage::vsphere::Credentials {
        server: "127.0.0.1".into(),
        port: vcsim::free_port(),
        username: "u".into(),
        password: "p".to_string().into(),
        validate_certs: false,
    };
    let err = Session::login(&c).await.unwrap_err();
    assert!(matches!(err, VsphereError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn a_second_fetch_is_served_from_the_cache_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = make_ova(dir.path(), "src.ova", 300_000, 3, Spoil::None);
    let server = FileServer::serve(path);
    let cache = dir.path().join("cache");
    let src = OvaSource::Url(server.url.clone());
    let mut last = None;
    let (ova, first) = fetch_ova(&src, Some(&sha), &cache, true, &mut |d, t| {
        last = Some((d, t))
    })
    .await
    .unwrap();
    assert!(!first.cached);
    assert_eq!(first.downloaded_bytes, ova.size);
    assert_eq!(ova.path, cache.join(format!("{sha}.ova")));
    assert_eq!(last, Some((ova.size, Some(ova.size))));
    assert_eq!(server.count(), 1);
    let (again, second) = fetch_ova(&src, Some(&sha), &cache, true, &mut |_, _| {})
        .await
        .unwrap();
    assert!(second.cached);
    assert_eq!(second.downloaded_bytes, 0);
    assert_eq!(again, ova);
    assert_eq!(server.count(), 1, "no second request");
    // Without an expected digest the file is named from the URL.
    let (named, _) = fetch_ova(&src, None, &cache, true, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(named.path, cache.join("rhcos-test-vmware.x86_64.ova"));
    assert_eq!(named.sha256, sha);
}

#[tokio::test]
async fn a_wrong_sha256_is_refused_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = make_ova(dir.path(), "src.ova", 100_000, 4, Spoil::None);
    let server = FileServer::serve(path.clone());
    let cache = dir.path().join("cache");
    let wrong = "0".repeat(64);
    let err = fetch_ova(
        &OvaSource::Url(server.url.clone()),
        Some(&wrong),
        &cache,
        true,
        &mut |_, _| {},
    )
    .await
    .unwrap_err();
    match &err {
        OvaError::Sha256Mismatch {
            expected, actual, ..
        } => {
            assert_eq!(
                (expected.as_str(), actual.as_str()),
                (wrong.as_str(), sha.as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(&sha) && err.to_string().contains(&wrong));
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A local file with the wrong digest is refused too.
    let err = fetch_ova(
        &OvaSource::Path(path),
        Some(&wrong),
        &cache,
        true,
        &mut |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OvaError::Sha256Mismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn a_download_cut_mid_body_resumes_with_a_range_request() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = make_ova(dir.path(), "src.ova", 2_000_000, 5, Spoil::None);
    let size = std::fs::metadata(&path).unwrap().len();
    let server = FileServer::serve(path);
    let cache = dir.path().join("cache");
    let src = OvaSource::Url(server.url.clone());
    server
        .fail_after
        .store(700_000, std::sync::atomic::Ordering::SeqCst);
    let err = fetch_ova(&src, Some(&sha), &cache, true, &mut |_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, OvaError::Download { .. }), "{err:?}");
    let part = cache.join(format!("{sha}.ova.part"));
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 700_000);
    let (ova, report) = fetch_ova(&src, Some(&sha), &cache, true, &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.resumed_from, 700_000);
    assert_eq!(report.downloaded_bytes, size - 700_000);
    assert_eq!(ova.sha256, sha);
    assert_eq!(ova.size, size);
    assert!(!part.exists());
    let seen = server.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].range, None);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=700000-"));
}

#[tokio::test]
async fn an_ova_without_its_disk_fails_the_import_and_leaves_no_vm() {
    let Some(sim) = Vcsim::start() else { return };
    let s = sim.session().await;
    for (spoil, name, needle) in [
        (Spoil::NoDisk, "rhcos-nodisk", "no entry disk.vmdk"),
        (Spoil::Truncated, "rhcos-cut", "truncated"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let ova = local_ova(dir.path(), 1 << 20, spoil).await;
        let before = s.vms_in_folder("/DC0/vm").await.unwrap();
        let err = s
            .import_template(&request(name), &ova, &mut |_, _| {})
            .await
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{spoil:?}: {err}");
        // Both fail after ImportVApp created the VM: the cleanup is what removed it.
        match spoil {
            Spoil::NoDisk => assert!(
                matches!(err, VsphereError::Ova(OvaError::MissingEntry { .. })),
                "{err:?}"
            ),
            _ => assert!(matches!(err, VsphereError::Upload { .. }), "{err:?}"),
        }
        assert_eq!(
            s.find_vm(&format!("/DC0/vm/{name}")).await.unwrap(),
            None,
            "{spoil:?}"
        );
        assert_eq!(
            s.vms_in_folder("/DC0/vm").await.unwrap(),
            before,
            "{spoil:?}"
        );
    }
}

#[test]
fn the_build_key_is_the_documented_one() {
    assert_eq!(BUILD_KEY, "ocp-bootimage.build");
}
