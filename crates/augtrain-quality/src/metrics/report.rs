//! Precision, recall, F1 and the classification report, exactly as scikit-learn defines them.
//!
//! For each label `k` in the report's label list: `tp = C[k,k]`, `pred = Σ_t C[t,k]`,
//! `true = Σ_p C[k,p]`; precision = tp / pred, recall = tp / true,
//! F1 = 2·tp / (true + pred); a zero denominator gives the `zero_division` value.
//! Micro averages pool tp / pred / true over the labels; macro is the mean over labels;
//! weighted is the mean weighted by support. NaN values (only with `zero_division = NaN`) are
//! left out of the averages, as in scikit-learn's `_nanaverage`.

use serde::{Deserialize, Serialize};

use super::ConfusionMatrix;

/// The value used when a ratio has a zero denominator (scikit-learn's `zero_division`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ZeroDivision {
    /// 0.0 (scikit-learn's default behaviour, which also warns).
    #[default]
    Zero,
    /// 1.0.
    One,
    /// NaN: the undefined value is excluded from averages.
    Nan,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
            ZeroDivision::Nan => f64::NAN,
        }
    }

    /// Parse `0`, `1` or `nan` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "0" | "0.0" | "zero" => Some(ZeroDivision::Zero),
            "1" | "1.0" | "one" => Some(ZeroDivision::One),
            "nan" => Some(ZeroDivision::Nan),
            _ => None,
        }
    }
}

fn divide(num: f64, den: f64, zero_division: ZeroDivision) -> f64 {
    if den == 0.0 {
        zero_division.value()
    } else {
        num / den
    }
}

/// Scores of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class index.
    pub label: usize,
    /// Its display name.
    pub name: String,
    /// tp / (tp + fp).
    #[serde(with = "augtrain_data::util::nan")]
    pub precision: f64,
    /// tp / (tp + fn).
    #[serde(with = "augtrain_data::util::nan")]
    pub recall: f64,
    /// 2·tp / (2·tp + fp + fn).
    #[serde(with = "augtrain_data::util::nan")]
    pub f1: f64,
    /// Number of samples whose true class is this one.
    pub support: u64,
}

/// An averaged row of the report.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Averaged precision.
    #[serde(with = "augtrain_data::util::nan")]
    pub precision: f64,
    /// Averaged recall.
    #[serde(with = "augtrain_data::util::nan")]
    pub recall: f64,
    /// Averaged F1.
    #[serde(with = "augtrain_data::util::nan")]
    pub f1: f64,
    /// Total support of the report's labels.
    pub support: u64,
}

/// Everything `sklearn.metrics.classification_report` shows, plus accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// One row per label, in label-list order.
    pub classes: Vec<ClassScores>,
    /// Fraction of all samples classified correctly (`accuracy_score`).
    #[serde(with = "augtrain_data::util::nan")]
    pub accuracy: f64,
    /// Micro averages (pooled counts over the labels).
    pub micro: Averages,
    /// Macro averages (unweighted mean over the labels).
    pub macro_avg: Averages,
    /// Weighted averages (mean weighted by support).
    pub weighted: Averages,
    /// `true` when the labels cover every class present, so that the micro row is printed as
    /// "accuracy" (scikit-learn's rule).
    pub micro_is_accuracy: bool,
    /// The zero-division policy used.
    pub zero_division: ZeroDivision,
    /// Number of samples evaluated.
    pub samples: u64,
}

/// Mean of the non-NaN values, optionally weighted (scikit-learn's `_nanaverage`): NaN when all
/// are NaN; unweighted when every remaining weight is zero.
fn nan_average(values: &[f64], weights: Option<&[u64]>) -> f64 {
    let kept: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &v)| (v, weights.map(|w| w[i] as f64).unwrap_or(1.0)))
        .collect();
    if kept.is_empty() {
        return f64::NAN;
    }
    let wsum: f64 = kept.iter().map(|(_, w)| w).sum();
    if wsum == 0.0 {
        return kept.iter().map(|(v, _)| v).sum::<f64>() / kept.len() as f64;
    }
    kept.iter().map(|(v, w)| v * w).sum::<f64>() / wsum
}

impl ClassificationReport {
    /// Compute the report from a confusion matrix.
    ///
    /// `labels`: the classes to report, in order (scikit-learn's `labels`); `None` means the
    /// sorted union of true and predicted classes. Labels outside the matrix count as absent
    /// classes (all counts zero). `class_names[k]` names class `k` (falls back to the number).
    pub fn new(
        cm: &ConfusionMatrix,
        labels: Option<&[usize]>,
        class_names: &[String],
        zero_division: ZeroDivision,
    ) -> Self {
        let present = cm.present_labels();
        let labels: Vec<usize> = labels
            .map(|l| l.to_vec())
            .unwrap_or_else(|| present.clone());
        let micro_is_accuracy = present.iter().all(|p| labels.contains(p));
        let name = |k: usize| class_names.get(k).cloned().unwrap_or_else(|| k.to_string());

        let tp: Vec<u64> = labels.iter().map(|&k| cm.true_positives(k)).collect();
        let pred: Vec<u64> = labels.iter().map(|&k| cm.predicted_count(k)).collect();
        let truth: Vec<u64> = labels.iter().map(|&k| cm.true_count(k)).collect();

        let classes: Vec<ClassScores> = labels
            .iter()
            .enumerate()
            .map(|(i, &k)| ClassScores {
                label: k,
                name: name(k),
                precision: divide(tp[i] as f64, pred[i] as f64, zero_division),
                recall: divide(tp[i] as f64, truth[i] as f64, zero_division),
                f1: divide(
                    2.0 * tp[i] as f64,
                    (truth[i] + pred[i]) as f64,
                    zero_division,
                ),
                support: truth[i],
            })
            .collect();
        let support: u64 = truth.iter().sum();

        let (stp, spred, strue) = (
            tp.iter().sum::<u64>() as f64,
            pred.iter().sum::<u64>() as f64,
            truth.iter().sum::<u64>() as f64,
        );
        let micro = Averages {
            precision: divide(stp, spred, zero_division),
            recall: divide(stp, strue, zero_division),
            f1: divide(2.0 * stp, strue + spred, zero_division),
            support,
        };
        let column = |f: fn(&ClassScores) -> f64| classes.iter().map(f).collect::<Vec<f64>>();
        let (p, r, f) = (
            column(|c| c.precision),
            column(|c| c.recall),
            column(|c| c.f1),
        );
        let macro_avg = Averages {
            precision: nan_average(&p, None),
            recall: nan_average(&r, None),
            f1: nan_average(&f, None),
            support,
        };
        let weighted = Averages {
            precision: nan_average(&p, Some(&truth)),
            recall: nan_average(&r, Some(&truth)),
            f1: nan_average(&f, Some(&truth)),
            support,
        };
        ClassificationReport {
            classes,
            accuracy: cm.accuracy(),
            micro,
            macro_avg,
            weighted,
            micro_is_accuracy,
            zero_division,
            samples: cm.total(),
        }
    }

    /// The text report, laid out exactly like scikit-learn's `classification_report` with
    /// `digits` decimals.
    pub fn to_text(&self, digits: usize) -> String {
        let heading = "weighted avg";
        let name_width = self
            .classes
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        let width = name_width.max(heading.len()).max(digits);
        let num = |v: f64| {
            if v.is_nan() {
                format!(" {:>9}", "nan")
            } else {
                format!(" {:>9.*}", digits, v)
            }
        };
        let mut out = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        let row = |name: &str, p: f64, r: f64, f: f64, s: u64| {
            format!("{:>width$} {}{}{} {:>9}\n", name, num(p), num(r), num(f), s)
        };
        for c in &self.classes {
            out.push_str(&row(&c.name, c.precision, c.recall, c.f1, c.support));
        }
        out.push('\n');
        if self.micro_is_accuracy {
            out.push_str(&format!(
                "{:>width$}  {:>9} {:>9}{} {:>9}\n",
                "accuracy",
                "",
                "",
                num(self.micro.f1),
                self.micro.support
            ));
        } else {
            let m = &self.micro;
            out.push_str(&row("micro avg", m.precision, m.recall, m.f1, m.support));
        }
        let m = &self.macro_avg;
        out.push_str(&row("macro avg", m.precision, m.recall, m.f1, m.support));
        let w = &self.weighted;
        out.push_str(&row("weighted avg", w.precision, w.recall, w.f1, w.support));
        out
    }

    /// The report as JSON in the shape of scikit-learn's `output_dict=True` (class names as
    /// keys with `precision`, `recall`, `f1-score`, `support`; `accuracy` or `micro avg`;
    /// `macro avg`; `weighted avg`; NaN becomes `null`).
    pub fn to_sklearn_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value, json};
        let num = |v: f64| if v.is_nan() { Value::Null } else { json!(v) };
        let row = |p: f64, r: f64, f: f64, s: u64| json!({"precision": num(p), "recall": num(r), "f1-score": num(f), "support": s});
        let mut map = Map::new();
        for c in &self.classes {
            map.insert(c.name.clone(), row(c.precision, c.recall, c.f1, c.support));
        }
        if self.micro_is_accuracy {
            map.insert("accuracy".into(), num(self.micro.f1));
        } else {
            let m = &self.micro;
            map.insert(
                "micro avg".into(),
                row(m.precision, m.recall, m.f1, m.support),
            );
        }
        let m = &self.macro_avg;
        map.insert(
            "macro avg".into(),
            row(m.precision, m.recall, m.f1, m.support),
        );
        let w = &self.weighted;
        map.insert(
            "weighted avg".into(),
            row(w.precision, w.recall, w.f1, w.support),
        );
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("class {i}")).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn sklearn_docstring_example_multiclass() {
        // sklearn.metrics.classification_report docstring, first example.
        let cm = ConfusionMatrix::from_labels(&[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1], 3);
        let r = ClassificationReport::new(&cm, None, &names(3), ZeroDivision::Zero);
        assert!(close(r.accuracy, 0.6));
        assert!(close(r.macro_avg.precision, 0.5));
        assert!(close(r.macro_avg.recall, (1.0 + 0.0 + 2.0 / 3.0) / 3.0));
        assert!(close(r.macro_avg.f1, (2.0 / 3.0 + 0.0 + 0.8) / 3.0));
        assert!(close(r.weighted.precision, 0.7));
        assert!(close(r.weighted.recall, 0.6));
        assert!(close(r.weighted.f1, (2.0 / 3.0 + 0.0 + 0.8 * 3.0) / 5.0));
        let expected = "              precision    recall  f1-score   support

     class 0       0.50      1.00      0.67         1
     class 1       0.00      0.00      0.00         1
     class 2       1.00      0.67      0.80         3

    accuracy                           0.60         5
   macro avg       0.50      0.56      0.49         5
weighted avg       0.70      0.60      0.61         5
";
        assert_eq!(r.to_text(2), expected);
    }

    #[test]
    fn sklearn_docstring_example_explicit_labels_gives_micro_avg() {
        // labels=[1, 2, 3], y_true=[1, 1, 1], y_pred=[1, 1, 0].
        let cm = ConfusionMatrix::from_labels(&[1, 1, 1], &[1, 1, 0], 2);
        let r = ClassificationReport::new(&cm, Some(&[1, 2, 3]), &[], ZeroDivision::Zero);
        assert!(!r.micro_is_accuracy);
        let expected = "              precision    recall  f1-score   support

           1       1.00      0.67      0.80         3
           2       0.00      0.00      0.00         0
           3       0.00      0.00      0.00         0

   micro avg       1.00      0.67      0.80         3
   macro avg       0.33      0.22      0.27         3
weighted avg       1.00      0.67      0.80         3
";
        assert_eq!(r.to_text(2), expected);
    }

    /// scikit-learn 1.9's outputs on random cases (tests/fixtures/make_fixtures.py), to 1e-12.
    #[test]
    fn matches_sklearn_on_reference_cases() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../../../tests/fixtures/sklearn.json")).unwrap();
        let ints = |v: &serde_json::Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
        for (c, case) in cases.iter().enumerate() {
            let (t, p) = (ints(&case["y_true"]), ints(&case["y_pred"]));
            let k = t.iter().chain(&p).max().map(|m| m + 1).unwrap_or(1);
            let cm = ConfusionMatrix::from_labels(&t, &p, k);
            let labels = case["labels"].as_array().map(|_| ints(&case["labels"]));
            let zd = ZeroDivision::parse(case["zero_division"].as_str().unwrap()).unwrap();
            let r = ClassificationReport::new(&cm, labels.as_deref(), &[], zd);
            assert!(
                close(r.accuracy, num(&case["accuracy"])),
                "case {c} accuracy"
            );
            let pc = &case["per_class"];
            for (i, cls) in r.classes.iter().enumerate() {
                assert!(
                    close(cls.precision, num(&pc["precision"][i])),
                    "case {c} precision {i}"
                );
                assert!(
                    close(cls.recall, num(&pc["recall"][i])),
                    "case {c} recall {i}"
                );
                assert!(close(cls.f1, num(&pc["f1"][i])), "case {c} f1 {i}");
                assert_eq!(
                    cls.support,
                    pc["support"][i].as_u64().unwrap(),
                    "case {c} support {i}"
                );
            }
            for (name, avg) in [
                ("micro", &r.micro),
                ("macro", &r.macro_avg),
                ("weighted", &r.weighted),
            ] {
                let e = &case[name];
                assert!(
                    close(avg.precision, num(&e[0])),
                    "case {c} {name} precision {} vs {}",
                    avg.precision,
                    e[0]
                );
                assert!(close(avg.recall, num(&e[1])), "case {c} {name} recall");
                assert!(close(avg.f1, num(&e[2])), "case {c} {name} f1");
            }
            // The text report, with labels named by number as scikit-learn does.
            let names: Vec<String> = (0..k + 3).map(|i| i.to_string()).collect();
            let r = ClassificationReport::new(&cm, labels.as_deref(), &names, zd);
            assert_eq!(
                r.to_text(4),
                case["report"].as_str().unwrap(),
                "case {c} text report"
            );
        }
    }

    #[test]
    fn zero_division_policies() {
        // Class 1 is never predicted: its precision is undefined.
        let cm = ConfusionMatrix::from_labels(&[0, 1, 1], &[0, 0, 0], 2);
        let z = ClassificationReport::new(&cm, None, &[], ZeroDivision::Zero);
        let o = ClassificationReport::new(&cm, None, &[], ZeroDivision::One);
        let n = ClassificationReport::new(&cm, None, &[], ZeroDivision::Nan);
        assert_eq!(z.classes[1].precision, 0.0);
        assert_eq!(o.classes[1].precision, 1.0);
        assert!(n.classes[1].precision.is_nan());
        // NaN is excluded from the macro average: only class 0's precision (1/3) remains.
        assert!(close(n.macro_avg.precision, 1.0 / 3.0));
        assert!(close(z.macro_avg.precision, 1.0 / 6.0));
        assert!(close(o.macro_avg.precision, (1.0 / 3.0 + 1.0) / 2.0));
        // F1 of class 1: tp = 0, true = 2, pred = 0 → 0 (denominator is not zero).
        assert_eq!(n.classes[1].f1, 0.0);
        assert!(n.to_text(2).contains("nan"));
        assert!(n.to_sklearn_json()["1"]["precision"].is_null());
    }

    #[test]
    fn weighted_average_with_zero_support_falls_back_to_mean() {
        // Only labels with no true samples: weights all zero → unweighted mean.
        let cm = ConfusionMatrix::from_labels(&[0, 0], &[1, 1], 2);
        let r = ClassificationReport::new(&cm, Some(&[1]), &[], ZeroDivision::One);
        // label 1: tp 0, pred 2, true 0: precision 0, recall = zero_division = 1, f1 0.
        assert!(close(r.weighted.precision, 0.0));
        assert!(close(r.weighted.recall, 1.0));
    }
}
