//! [`SortedSet`]: a set kept as a sorted list.
//!
//! For the sets of a few items — a statement's dates, the terminal's open
//! transactions, the batches a simulated acquirer has had uploaded — where a `BTreeSet` of each item
//! type would compile its own insertion, search and drop into the wasm
//! (1–4 KB gzipped each; `collect`ing one compiled a stable sort too). An
//! insert is a bisection and a shift of the items after it, so an item
//! that comes in order (a new transaction, the latest id) costs no more
//! than in a tree, nor does taking out the last one.

/// Items in order, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SortedSet<T>(Vec<T>);

impl<T: Ord> SortedSet<T> {
    /// An empty set.
    pub const fn new() -> Self {
        SortedSet(Vec::new())
    }

    /// Adds `item`: whether it was not there yet.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    /// Takes `item` out: whether it was there.
    pub fn remove(&mut self, item: &T) -> bool {
        match self.0.binary_search(item) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `item` is in the set.
    pub fn contains(&self, item: &T) -> bool {
        self.0.binary_search(item).is_ok()
    }

    /// The items, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The items, in order.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Puts `item` into `list`, which is sorted by `key`, in place of the item
/// with its key if there is one: a map kept as a sorted list, for the few
/// records a map of their own key type would compile a B-tree's code for.
pub fn replace_or_insert<T, K: Ord>(list: &mut Vec<T>, item: T, key: impl Fn(&T) -> K) {
    match list.binary_search_by_key(&key(&item), &key) {
        Ok(at) => list[at] = item,
        Err(at) => list.insert(at, item),
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut set = SortedSet::new();
        for item in items {
            set.insert(item);
        }
        set
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_each_item_once_in_order_as_a_btreeset_would() {
        let items = [5u32, 1, 9, 1, 3, 9, 0, 5, 7, 2, 2, 8];
        let mut set = SortedSet::new();
        let mut tree = std::collections::BTreeSet::new();
        for i in items {
            assert_eq!(set.insert(i), tree.insert(i), "{i}");
            assert!(set.iter().eq(tree.iter()));
        }
        for i in 0..12 {
            assert_eq!(set.contains(&i), tree.contains(&i), "{i}");
        }
        for i in [3, 4, 0, 9, 3] {
            let mut fewer = set.clone();
            let mut smaller = tree.clone();
            assert_eq!(fewer.remove(&i), smaller.remove(&i), "{i}");
            assert!(fewer.iter().eq(smaller.iter()));
        }
        assert_eq!(set.len(), tree.len());
        assert!(!set.is_empty() && SortedSet::<u8>::new().is_empty());
        let collected: SortedSet<u32> = items.into_iter().rev().collect();
        assert_eq!(collected, set);
        assert_eq!(set.as_slice(), [0, 1, 2, 3, 5, 7, 8, 9]);
    }

    #[test]
    fn replace_or_insert_keeps_the_list_as_a_map_by_key_would() {
        let mut list = Vec::new();
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in [(5, 'a'), (1, 'b'), (5, 'c'), (9, 'd'), (0, 'e'), (1, 'f')] {
            replace_or_insert(&mut list, (k, v), |&(k, _)| k);
            map.insert(k, v);
            assert!(list.iter().copied().eq(map.clone()));
        }
    }
}
