//! The annotation readers (COCO, Label Studio, LabelMe, Pascal VOC, CVAT, YOLO label lines),
//! each fed the same bytes. Whatever one accepts and passes the model's checks must write in
//! every format without panicking, and its COCO form must be a fixed point: writing, reading
//! and writing again gives the same bytes.

use std::path::Path;

use augtrain_annotations::formats::{
    self, Format, coco, common, cvat, labelme, labelstudio, voc, yolo,
};
use augtrain_annotations::{Class, Dataset, Image, Losses};

/// Every annotation reader on `bytes`; true when any accepted them.
pub fn annotations(bytes: &[u8]) -> bool {
    let path = Path::new("fuzz");
    let text = std::str::from_utf8(bytes).ok();
    let mut accepted = Vec::new();
    accepted.extend(coco::parse(path, bytes).ok());
    accepted.extend(labelstudio::parse(path, bytes).ok().map(|r| r.dataset));
    let mut d = Dataset::default();
    if let Ok(image) = labelme::parse_file(path, bytes, "dir", &mut d, &mut Losses::default()) {
        d.images.push(image);
        accepted.push(d);
    }
    if let Some(text) = text {
        let mut d = Dataset::default();
        if let Ok(image) = voc::parse_file(path, text, &mut d, &mut Losses::default()) {
            d.images.push(image);
            accepted.push(d);
        }
        accepted.extend(cvat::parse_text(path, text).ok().map(|r| r.dataset));
        for pose in [Some((2, 3)), None] {
            let mut classes: Vec<Class> = Vec::new();
            if let Ok(objects) = yolo::parse_labels(path, text, (640, 480), pose, &mut classes) {
                let image = Image {
                    file_name: "a.jpg".into(),
                    width: 640,
                    height: 480,
                    id: None,
                    objects,
                    tags: Vec::new(),
                };
                accepted.push(Dataset {
                    images: vec![image],
                    classes,
                    ..Dataset::default()
                });
            }
        }
    }
    // `formats::read` returns only data sets that pass the model's checks; so do these.
    accepted.retain(|d| common::check_dataset(path, d).is_ok());
    let any = !accepted.is_empty();
    for d in accepted {
        for format in Format::ALL {
            let _ = formats::write(format, &d);
        }
        let once = formats::write(Format::Coco, &d).expect("COCO holds any data set");
        let read = coco::parse(path, &once.files[0].bytes).expect("COCO reads what it wrote");
        let twice = formats::write(Format::Coco, &read).expect("COCO holds any data set");
        assert_eq!(
            once.files[0].bytes, twice.files[0].bytes,
            "COCO write/read/write is not a fixed point"
        );
    }
    any
}
