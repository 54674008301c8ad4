//! The pre-check on hostile and valid `.pth` files, each written here (no Python, no
//! PyTorch): pickles opcode by opcode as `torch.save` writes them, ZIP containers with the
//! `zip` crate.

use std::io::Write;
use std::path::{Path, PathBuf};

use augtrain_weights::{Container, Limits, PthError, check_pth, check_pth_with};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("augtrain-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn unicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend((s.len() as u32).to_le_bytes());
    v.extend(s.as_bytes());
    v
}

fn int(n: u64) -> Vec<u8> {
    if n < 256 {
        vec![b'K', n as u8]
    } else if n < (1 << 31) {
        let mut v = vec![b'J'];
        v.extend((n as u32).to_le_bytes());
        v
    } else {
        let mut v = vec![0x8a, 8];
        v.extend(n.to_le_bytes());
        v
    }
}

fn tuple(items: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![b'('];
    for i in items {
        v.extend(i);
    }
    v.push(b't');
    v
}

/// One tensor of a state dict: name, storage key, element count, shape, stride.
type TensorSpec<'a> = (&'a str, &'a str, u64, &'a [u64], &'a [u64]);

/// A state dict pickle of `tensors`.
fn state_dict(tensors: &[TensorSpec]) -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\n)R(".to_vec();
    for (name, key, numel, shape, stride) in tensors {
        let pid = tuple(&[
            unicode("storage"),
            b"ctorch\nFloatStorage\n".to_vec(),
            unicode(key),
            unicode("cpu"),
            int(*numel),
        ]);
        let mut storage = pid;
        storage.push(b'Q');
        let args = tuple(&[
            storage,
            int(0),
            tuple(&shape.iter().map(|&d| int(d)).collect::<Vec<_>>()),
            tuple(&stride.iter().map(|&d| int(d)).collect::<Vec<_>>()),
            vec![0x89],
            b"ccollections\nOrderedDict\n)R".to_vec(),
        ]);
        p.extend(unicode(name));
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n");
        p.extend(args);
        p.push(b'R');
    }
    p.extend(b"u.");
    p
}

/// A ZIP container under `archive/`; entries named in `deflated` are compressed.
fn write_zip(path: &Path, entries: &[(&str, &[u8])], deflated: &[&str]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        let method = if deflated.contains(name) {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(data.len() > u32::MAX as usize);
        z.start_file(format!("archive/{name}"), options).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn pth(name: &str, pickle: &[u8], data: &[(&str, &[u8])], deflated: &[&str]) -> PathBuf {
    let path = scratch(name);
    let mut entries: Vec<(&str, &[u8])> = vec![("data.pkl", pickle), ("byteorder", b"little")];
    entries.extend_from_slice(data);
    write_zip(&path, &entries, deflated);
    path
}

fn refusal(path: &Path) -> String {
    match check_pth(path) {
        Ok(c) => panic!("{} passed: {c:?}", path.display()),
        Err(e) => e.to_string(),
    }
}

const W: [u8; 48] = [0; 48];

#[test]
fn a_state_dict_as_torch_save_writes_it_passes() {
    let pickle = state_dict(&[
        ("fc.weight", "0", 12, &[3, 4], &[4, 1]),
        ("fc.bias", "1", 3, &[3], &[1]),
    ]);
    let path = pth(
        "good.pth",
        &pickle,
        &[("data/0", &W), ("data/1", &W[..12])],
        &[],
    );
    let checked = check_pth(&path).unwrap();
    assert_eq!(checked.container, Container::Zip);
    assert_eq!(checked.storages, 2);
    // Deflated by a tool that re-zips: still fine at an ordinary ratio.
    let path = pth(
        "good-deflated.pth",
        &pickle,
        &[("data/0", &W), ("data/1", &W[..12])],
        &["data.pkl", "data/0"],
    );
    assert!(check_pth(&path).is_ok());
}

#[test]
fn a_pickle_of_one_byte_opcodes_is_refused_before_any_parser_sees_it() {
    // The file had 99 million EMPTY_LISTs (burn-store's reader: 11.8 GB, abort); 2
    // million show the bound at a test's cost.
    let mut pickle = b"\x80\x02".to_vec();
    pickle.extend(std::iter::repeat_n(b']', 2_000_000));
    pickle.push(b'.');
    let path = pth("lists.pth", &pickle, &[], &["data.pkl"]);
    assert!(std::fs::metadata(&path).unwrap().len() < 10_000);
    let why = refusal(&path);
    assert!(
        why.contains("data.pkl unpacks to 2.0 MB from 2.0 kB"),
        "{why}"
    );
    // Stored, the ratio is 1:1 and the values give it away.
    let path = pth("lists-stored.pth", &pickle, &[], &[]);
    let why = refusal(&path);
    assert!(why.contains("more than 1000000 values"), "{why}");
    // The same as a plain pickle and inside a list (APPENDS keeps the stack small; the
    // values still count).
    let plain = scratch("lists.pkl");
    std::fs::write(&plain, &pickle).unwrap();
    assert!(refusal(&plain).contains("values"));
    let mut appends = b"\x80\x02](".to_vec();
    appends.extend(std::iter::repeat_n(b'N', 1_500_000));
    appends.extend(b"e.");
    std::fs::write(&plain, &appends).unwrap();
    assert!(refusal(&plain).contains("values"));
    // Memo writes of one value count as well.
    let mut memo = b"\x80\x02]".to_vec();
    for _ in 0..1_100_000 {
        memo.extend(b"q\x00");
    }
    memo.push(b'.');
    std::fs::write(&plain, &memo).unwrap();
    assert!(refusal(&plain).contains("values"));
}

#[test]
fn compression_bombs_and_size_claims_are_refused() {
    let pickle = state_dict(&[("w", "0", 4 << 20, &[4 << 20], &[1])]);
    let zeros = vec![0u8; 16 << 20];
    let path = pth("bomb.pth", &pickle, &[("data/0", &zeros)], &["data/0"]);
    let why = refusal(&path);
    assert!(why.contains("archive/data/0 unpacks to 16.8 MB"), "{why}");

    let claim = state_dict(&[("w", "0", 1_000_000_000, &[1_000_000_000], &[1])]);
    let path = pth("claim.pth", &claim, &[("data/0", &W)], &[]);
    let why = refusal(&path);
    assert!(
        why.contains("storage '0' of 4000000000 bytes, but the file holds 48 bytes"),
        "{why}"
    );

    let missing = state_dict(&[("w", "7", 12, &[12], &[1])]);
    let path = pth("missing.pth", &missing, &[("data/0", &W)], &[]);
    assert!(refusal(&path).contains("storage '7', which the file does not hold"));

    let view = state_dict(&[("w", "0", 1, &[100_000, 100_000], &[0, 0])]);
    let path = pth("view.pth", &view, &[("data/0", &W[..4])], &[]);
    let why = refusal(&path);
    assert!(
        why.contains("shape [100000, 100000] (40000000000 bytes)"),
        "{why}"
    );

    let big_pickle = pth("big-pickle.pth", &pickle, &[], &[]);
    let limits = Limits {
        max_pickle_bytes: 100,
        ..Limits::default()
    };
    let why = check_pth_with(&big_pickle, &limits)
        .unwrap_err()
        .to_string();
    assert!(why.contains("archive/data.pkl unpacks to"), "{why}");
}

#[test]
fn the_entry_count_is_bounded_before_the_directory_is_parsed() {
    let pickle = state_dict(&[]);
    let many: Vec<(String, Vec<u8>)> = (0..20).map(|i| (format!("extra/{i}"), vec![1])).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let path = pth("entries.pth", &pickle, &refs, &[]);
    assert!(check_pth(&path).is_ok());
    let limits = Limits {
        max_entries: 10,
        ..Limits::default()
    };
    let why = check_pth_with(&path, &limits).unwrap_err().to_string();
    assert!(why.contains("claims 22 entries, more than the 10"), "{why}");
}

#[test]
fn tar_files_fifos_and_truncated_pickles_are_refused() {
    let mut tar = vec![0u8; 1024];
    tar[257..262].copy_from_slice(b"ustar");
    let path = scratch("old.tar");
    std::fs::write(&path, &tar).unwrap();
    assert!(refusal(&path).contains("TAR-format"));

    let path = scratch("cut.pkl");
    std::fs::write(&path, b"\x80\x02]q\x00(").unwrap();
    assert!(matches!(check_pth(&path), Err(PthError::Pickle(_))));

    #[cfg(unix)]
    {
        let fifo = scratch("fifo.pth");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(refusal(&fifo).contains("not a regular file"));
        }
    }
}

#[test]
fn real_weights_pass() {
    let Some(root) = std::env::var_os("AUGTRAIN_TEST_DATA") else {
        eprintln!("SKIPPED: AUGTRAIN_TEST_DATA is not set");
        return;
    };
    let models = Path::new(&root).join("models");
    for (file, tensors) in [
        ("resnet18-random-seed0.pth", 122),
        ("efficientnet-lite0-57934424.pth", 0),
    ] {
        let path = models.join(file);
        if !path.exists() {
            eprintln!("SKIPPED: {} is missing", path.display());
            continue;
        }
        let checked = check_pth(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(checked.storages > 0, "{file}: {checked:?}");
        if tensors > 0 {
            assert_eq!(checked.storages, tensors, "{file}");
        }
    }
}
