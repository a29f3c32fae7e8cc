//! 主索引合并 — merge and unmerge of duplicate residents.
//!
//! A merge never moves or deletes a record: the merged resident is marked as
//! pointing at the survivor, and every record of both is read through the
//! survivor. Unmerge clears the pointer, so the round trip loses nothing.

use crate::error::Explain;

/// A resident as merge rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeParty {
    pub id: i64,
    pub merged_into: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("a resident cannot be merged into themself")]
    SameResident,
    #[error("resident {0} is already merged into another resident")]
    AlreadyMerged(i64),
    #[error("this merge was already undone")]
    AlreadyUndone,
}

impl Explain for MergeError {
    fn code(&self) -> &'static str {
        match self {
            MergeError::SameResident => "merge_same_resident",
            MergeError::AlreadyMerged(_) => "already_merged",
            MergeError::AlreadyUndone => "merge_already_undone",
        }
    }
    fn message_zh(&self) -> String {
        match self {
            MergeError::SameResident => "不能将居民与其自身合并".into(),
            MergeError::AlreadyMerged(id) => format!("居民 {id} 已被合并到其他档案"),
            MergeError::AlreadyUndone => "该合并已撤销".into(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// 合并条件 — both residents are active (not merged elsewhere) and distinct.
pub fn check_merge(survivor: MergeParty, merged: MergeParty) -> Result<(), MergeError> {
    if survivor.id == merged.id {
        return Err(MergeError::SameResident);
    }
    for p in [survivor, merged] {
        if p.merged_into.is_some() {
            return Err(MergeError::AlreadyMerged(p.id));
        }
    }
    Ok(())
}

/// 撤销合并条件 — a merge can be undone once.
pub fn check_unmerge(undone: bool) -> Result<(), MergeError> {
    if undone {
        Err(MergeError::AlreadyUndone)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_rules() {
        let a = MergeParty {
            id: 1,
            merged_into: None,
        };
        let b = MergeParty {
            id: 2,
            merged_into: None,
        };
        assert!(check_merge(a, b).is_ok());
        assert_eq!(check_merge(a, a), Err(MergeError::SameResident));
        let c = MergeParty {
            id: 3,
            merged_into: Some(1),
        };
        assert_eq!(check_merge(a, c), Err(MergeError::AlreadyMerged(3)));
        assert_eq!(check_unmerge(true), Err(MergeError::AlreadyUndone));
    }
}
