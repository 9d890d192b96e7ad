//! What a network was trained on, and whether `--data` is the same: a weights file records the
//! data set's name, its class names and a fingerprint of its training split; `evaluate` and
//! `predict` compare that record with the data they are given, so a digit classifier is never
//! scored on garments, nor its answers named after them, without the user saying so.

use std::collections::HashMap;

use crate::data::Dataset;

/// The data a network was trained on, as its weights file records it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRecord {
    /// The data set's name (`synthetic:60000,10000`, a directory).
    pub name: String,
    pub class_names: Option<Vec<String>>,
    /// [`crate::data::fingerprint`] of its training split.
    pub fingerprint: u64,
}

impl DataRecord {
    /// The record in a weights file's metadata, where it has one.
    pub fn from_metadata(
        metadata: &HashMap<String, String>,
        class_names: &Option<Vec<String>>,
    ) -> Option<Self> {
        let fingerprint = u64::from_str_radix(metadata.get("data_fingerprint")?, 16).ok()?;
        Some(DataRecord {
            name: metadata.get("dataset").cloned().unwrap_or_default(),
            class_names: class_names.clone(),
            fingerprint,
        })
    }

    /// The record of a loaded data set.
    pub fn of(data: &Dataset) -> Self {
        DataRecord {
            name: data.name.clone(),
            class_names: data.class_names.clone(),
            fingerprint: data.fingerprint,
        }
    }
}

/// How `--data` relates to what the weights were trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Match {
    /// The same training split: the data set they were trained on.
    Same,
    /// Other images with the same named classes (digit weights on another digit set).
    SameClasses,
    /// Classes with other names: digits against garments.
    OtherClasses,
    /// Nothing to tell from: the file records no fingerprint (an older nnopt), or a side has
    /// no class names.
    Unknown,
}

/// Compares the weights' record (if any) and class names with the data. Without a record (an
/// older file), class names still tell digits from garments.
pub fn compare(weights: Option<&DataRecord>, weight_names: &Option<Vec<String>>, data: &DataRecord) -> Match {
    if weights.is_some_and(|w| w.fingerprint == data.fingerprint) {
        return Match::Same;
    }
    match (weight_names, &data.class_names) {
        (Some(a), Some(b)) if a == b => Match::SameClasses,
        (Some(_), Some(_)) => Match::OtherClasses,
        _ => Match::Unknown,
    }
}

/// "T-shirt/top, Trouser, Pullover, …": the first few names.
pub fn names_preview(names: &Option<Vec<String>>) -> String {
    match names {
        None => "unnamed classes".into(),
        Some(n) if n.len() > 3 => format!("{}, …", n[..3].join(", ")),
        Some(n) => n.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, names: Option<&[&str]>, fingerprint: u64) -> DataRecord {
        DataRecord {
            name: name.into(),
            class_names: names.map(|n| n.iter().map(|s| s.to_string()).collect()),
            fingerprint,
        }
    }

    #[test]
    fn the_record_decides_same_similar_other_or_unknown() {
        let digits = ["0", "1", "2"];
        let garments = ["T-shirt/top", "Trouser", "Pullover"];
        let trained = record("synthetic", Some(&digits), 1);
        let names = trained.class_names.clone();
        assert_eq!(compare(Some(&trained), &names, &record("synthetic", Some(&digits), 1)), Match::Same);
        assert_eq!(compare(Some(&trained), &names, &record("mnist", Some(&digits), 2)), Match::SameClasses);
        assert_eq!(
            compare(Some(&trained), &names, &record("fashion", Some(&garments), 3)),
            Match::OtherClasses
        );
        assert_eq!(compare(Some(&trained), &names, &record("kmnist", None, 4)), Match::Unknown);
        // An older file: no fingerprint, but its class names still say digits, not garments.
        assert_eq!(compare(None, &names, &record("fashion", Some(&garments), 3)), Match::OtherClasses);
        assert_eq!(compare(None, &None, &record("fashion", Some(&garments), 3)), Match::Unknown);
    }

    #[test]
    fn a_record_is_read_back_from_metadata() {
        let metadata = HashMap::from([
            ("dataset".to_string(), "synthetic:10,10".to_string()),
            ("data_fingerprint".to_string(), "00000000000000ff".to_string()),
        ]);
        let r = DataRecord::from_metadata(&metadata, &None).unwrap();
        assert_eq!((r.name.as_str(), r.fingerprint), ("synthetic:10,10", 255));
        assert!(DataRecord::from_metadata(&HashMap::new(), &None).is_none(), "older files have none");
        assert_eq!(names_preview(&Some(vec!["a".into(), "b".into(), "c".into(), "d".into()])), "a, b, c, …");
    }
}
