// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

//! criterion benches of the hot paths: the CPU twin per op and for the full pipeline, confusion
//! matrix accumulation, IDX parsing. `cargo bench` runs them; `augtrain bench` is the
//! end-to-end harness with ceilings (see BENCHMARKS.md).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use augtrain::augment::{Program, cpu};
use augtrain::bench::augment::cases;
use augtrain::data::idx;
use augtrain::metrics::ConfusionMatrix;
use augtrain::util::rng::pixel_hash;

fn twin(c: &mut Criterion) {
    for (label, w, h, ch, n) in [("224x224x3", 224, 224, 3, 32), ("28x28x1", 28, 28, 1, 1000)] {
        let mut group = c.benchmark_group(format!("twin {label} batch {n}"));
        group.sample_size(20);
        group.throughput(Throughput::Elements(n as u64));
        let images: Vec<Vec<u8>> = (0..n)
            .map(|s| {
                (0..w * h * ch)
                    .map(|i| (pixel_hash(s as u32, i as u32) >> 24) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = images.iter().map(|v| v.as_slice()).collect();
        let ids: Vec<u64> = (0..n as u64).collect();
        for (name, spec) in cases(w, h, ch, false) {
            let prog = Program::new(&spec, augtrain::data::ImageShape::new(w, h, ch)).unwrap();
            let (ow, oh) = (prog.output.width, prog.output.height);
            let header = prog.header(n);
            let mut out = vec![0f32; n * ch * oh * ow];
            let mut epoch = 0;
            group.bench_function(BenchmarkId::from_parameter(&name), |b| {
                b.iter(|| {
                    epoch += 1;
                    let params = prog.draw(1, epoch, &ids);
                    let words = prog.pack(&params).unwrap();
                    cpu::run(&header, &words, &refs, &mut out);
                })
            });
        }
        group.finish();
    }
}

fn confusion(c: &mut Criterion) {
    let n = 100_000;
    let y_true: Vec<usize> = (0..n)
        .map(|i| (pixel_hash(1, i as u32) % 10) as usize)
        .collect();
    let y_pred: Vec<usize> = (0..n)
        .map(|i| (pixel_hash(2, i as u32) % 10) as usize)
        .collect();
    let mut group = c.benchmark_group("metrics");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("confusion matrix 100k samples, 10 classes", |b| {
        b.iter(|| ConfusionMatrix::from_labels(&y_true, &y_pred, 10))
    });
    group.finish();
}

fn idx_parse(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("augtrain-criterion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pixels: Vec<u8> = (0..8000 * 784)
        .map(|i| (pixel_hash(3, i as u32) >> 24) as u8)
        .collect();
    let mut group = c.benchmark_group("idx");
    group.sample_size(20);
    group.throughput(Throughput::Elements(8000));
    for gz in [false, true] {
        let path = dir.join(format!("train-images-{gz}"));
        idx::write_images(&path, 8000, 28, 28, &pixels, gz).unwrap();
        group.bench_function(
            if gz {
                "parse 8000x28x28 gzip"
            } else {
                "parse 8000x28x28 raw"
            },
            |b| b.iter(|| idx::read_images(&path).unwrap()),
        );
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, twin, confusion, idx_parse);
criterion_main!(benches);
