//! Lists of class names given by the user (`--classes`, a config's `data.classes`, a
//! `--class-names` file), checked in one place: every name once, no empty name, no
//! byte-order mark or other invisible prefix pasted in with it, and for training at least two.

use crate::util::escape::escape;

/// What is wrong with a class list: the position of the offending entry (0-based) and a
/// sentence saying what and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassListProblem {
    /// Index of the first offending entry.
    pub index: usize,
    /// What is wrong, e.g. "'red' is listed twice (entries 1 and 2); name each class once".
    pub problem: String,
}

impl std::fmt::Display for ClassListProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem)
    }
}

/// The byte-order mark (U+FEFF) some editors put at the start of a text file.
const BOM: char = '\u{feff}';

/// Check a class list as names: none empty, none starting with a byte-order mark, none listed
/// twice. Entries are compared exactly (`Red` and `red` are two classes, as two folders are).
pub fn check_names<S: AsRef<str>>(names: &[S]) -> Result<(), ClassListProblem> {
    let mut seen = std::collections::HashMap::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(ClassListProblem {
                index,
                problem: format!("entry {} is empty; remove it", index + 1),
            });
        }
        if name.starts_with(BOM) {
            return Err(ClassListProblem {
                index,
                problem: format!(
                    "entry {} ('{}') starts with a byte-order mark (U+FEFF); save the list as UTF-8 without a BOM",
                    index + 1,
                    escape(name)
                ),
            });
        }
        if let Some(first) = seen.insert(name, index) {
            return Err(ClassListProblem {
                index,
                problem: format!(
                    "'{}' is listed twice (entries {} and {}); name each class once",
                    escape(name),
                    first + 1,
                    index + 1
                ),
            });
        }
    }
    Ok(())
}

/// [`check_names`], and at least two classes: a classifier of one class is right by
/// construction and learns nothing.
pub fn check_for_training<S: AsRef<str>>(names: &[S]) -> Result<(), ClassListProblem> {
    check_names(names)?;
    if names.len() < 2 {
        return Err(ClassListProblem {
            index: 0,
            problem: format!(
                "{} class{} given; a classifier needs at least two",
                names.len(),
                if names.len() == 1 { "" } else { "es" }
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_empty_names_and_byte_order_marks_are_named() {
        assert_eq!(check_names(&["red", "Red", "blue"]), Ok(()));
        let e = check_names(&["red", "blue", "red"]).unwrap_err();
        assert_eq!(e.index, 2);
        assert!(
            e.problem
                .contains("'red' is listed twice (entries 1 and 3)"),
            "{e}"
        );
        let e = check_names(&["\u{feff}red", "blue"]).unwrap_err();
        assert!(e.problem.contains("byte-order mark"), "{e}");
        assert_eq!(check_names(&["red", ""]).unwrap_err().index, 1);
    }

    #[test]
    fn training_needs_two_classes() {
        let e = check_for_training(&["red"]).unwrap_err();
        assert!(e.problem.contains("1 class given"), "{e}");
        assert!(check_for_training(&["red", "red"]).is_err());
        assert_eq!(check_for_training(&["red", "blue"]), Ok(()));
    }
}
