//! [`SortedSet`] and [`SortedMap`]: a set and a map kept as sorted lists.
//!
//! For the sets and maps of a few items — a statement's dates, the
//! terminal's open transactions and PIN failures, the batches a simulated
//! acquirer has had uploaded — where a `BTreeSet` or `BTreeMap` of each
//! item type would compile its own insertion, search and drop into the
//! wasm (1–4 KB gzipped each; `collect`ing one compiled a stable sort
//! too). An insert is a bisection and a shift of the items after it, so an
//! item that comes in order (a new transaction, the latest id) costs no
//! more than in a tree, nor does taking out the last one.

use std::borrow::Borrow;

/// Items in order, each once: a [`SortedMap`] of the items to nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SortedSet<T>(SortedMap<T, ()>);

impl<T: Ord> SortedSet<T> {
    /// An empty set.
    pub const fn new() -> Self {
        SortedSet(SortedMap::new())
    }

    /// Adds `item`: whether it was not there yet (an equal item already
    /// there stays, as in a `BTreeSet`).
    pub fn insert(&mut self, item: T) -> bool {
        self.0.insert(item, ()).is_none()
    }

    /// Takes `item` out: whether it was there.
    pub fn remove(&mut self, item: &T) -> bool {
        self.0.remove(item).is_some()
    }

    /// Whether `item` is in the set.
    pub fn contains(&self, item: &T) -> bool {
        self.0.get(item).is_some()
    }

    /// The items, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|(item, ())| item)
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

/// Values by key, in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// Where `key` is, or would go.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.0[at].1)
    }

    /// Puts `value` under `key`: the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, to change, made by `Default` when there is none.
    pub fn get_or_default<Q: Ord + ToOwned<Owned = K> + ?Sized>(&mut self, key: &Q) -> &mut V
    where
        K: Borrow<Q>,
        V: Default,
    {
        let at = match self.find(key) {
            Ok(at) => at,
            Err(at) => {
                self.0.insert(at, (key.to_owned(), V::default()));
                at
            }
        };
        &mut self.0[at].1
    }

    /// Takes `key` out: its value.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.0.remove(at).1)
    }

    /// The keys and values, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The values, in key order, taken.
    pub fn into_values(self) -> impl Iterator<Item = V> {
        self.0.into_iter().map(|(_, v)| v)
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (T, ())>, fn(&(T, ())) -> &T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0 .0.iter().map(|(item, ())| item)
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
        assert!(set.iter().eq(&[0, 1, 2, 3, 5, 7, 8, 9]));
    }

    #[test]
    fn a_sorted_map_does_what_a_btreemap_does() {
        let mut ours = SortedMap::new();
        let mut tree = std::collections::BTreeMap::new();
        let same = |ours: &SortedMap<String, u32>,
                    tree: &std::collections::BTreeMap<String, u32>| {
            assert!(ours.iter().eq(tree.iter()));
            assert!(ours.values().eq(tree.values()));
            assert_eq!((ours.len(), ours.is_empty()), (tree.len(), tree.is_empty()));
        };
        for (k, v) in [("e", 1), ("b", 2), ("e", 3), ("z", 4), ("a", 5), ("b", 6)] {
            assert_eq!(
                ours.insert(k.to_owned(), v),
                tree.insert(k.to_owned(), v),
                "{k}"
            );
            same(&ours, &tree);
        }
        for k in ["a", "c", "z"] {
            assert_eq!(ours.get(k), tree.get(k), "{k}");
            *ours.get_or_default(k) += 10;
            *tree.entry(k.to_owned()).or_default() += 10;
            same(&ours, &tree);
        }
        for k in ["b", "q", "b"] {
            assert_eq!(ours.remove(k), tree.remove(k), "{k}");
            same(&ours, &tree);
        }
        assert!(ours.into_values().eq(tree.into_values()));
    }
}
