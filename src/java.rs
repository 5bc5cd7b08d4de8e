//! Java library behaviour that Kafka Connect users see in its output: `hashCode` and the
//! iteration order of a `HashMap` or `HashSet` (in error messages that list a set, in
//! FileStreamSink lines that print a map).

/// Java's `String.hashCode`: over UTF-16 code units, wrapping.
pub fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Java's `Long.hashCode`.
pub fn long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// Java's `Double.hashCode` (NaN is canonical, as `doubleToLongBits` makes it).
pub fn double_hash(v: f64) -> i32 {
    let bits = if v.is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        v.to_bits()
    };
    long_hash(bits as i64)
}

/// Java's `Float.hashCode`.
pub fn float_hash(v: f32) -> i32 {
    if v.is_nan() {
        0x7fc0_0000
    } else {
        v.to_bits() as i32
    }
}

/// Java's `Boolean.hashCode`.
pub fn bool_hash(v: bool) -> i32 {
    if v {
        1231
    } else {
        1237
    }
}

/// `java.util.HashMap`'s defaults: initial table size and load factor (as a ratio 3/4).
const INITIAL_CAPACITY: usize = 16;
/// A bin with this many entries asks for a tree, which a table below 64 answers by growing.
const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// The order in which a `new HashMap<>()` (or `HashSet`) filled by `put`s of distinct keys
/// with these `hashCode`s, in this order, iterates them: indices into `hashes`.
///
/// Iteration walks the table bin by bin; a bin keeps insertion order, and growing the table
/// splits bins without reordering them. So the order is a stable sort by bin in the final
/// table, whose size depends on the number of keys and on bins crowded enough to make the
/// table grow instead of becoming a tree. (Trees in tables of 64 or more bins, which need
/// 8 colliding keys, are not modelled.)
pub fn hash_map_order(hashes: &[i32]) -> Vec<usize> {
    let spread = |h: i32| {
        let h = h as u32;
        (h ^ (h >> 16)) as usize
    };
    let mut capacity = INITIAL_CAPACITY;
    let mut bins: std::collections::HashMap<usize, usize> = Default::default();
    for (size, &h) in hashes.iter().enumerate() {
        let bin = spread(h) & (capacity - 1);
        let count = bins.entry(bin).or_default();
        *count += 1;
        let crowded = *count > TREEIFY_THRESHOLD && capacity < MIN_TREEIFY_CAPACITY;
        if crowded || (size + 1) * 4 > capacity * 3 {
            capacity *= 2;
            bins.clear();
            for &h in &hashes[..=size] {
                *bins.entry(spread(h) & (capacity - 1)).or_default() += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| spread(hashes[i]) & (capacity - 1));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_java() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("some_key"), 1_505_175_700);
        assert_eq!(string_hash("ü😀"), 2_015_071);
        assert_eq!(long_hash(-1), 0);
        assert_eq!(long_hash(1 << 32), 1);
        assert_eq!(double_hash(1.0), 1_072_693_248);
        assert_eq!(float_hash(1.0), 1_065_353_216);
    }

    #[test]
    fn hash_set_order_matches_kafka_error_messages() {
        // Kafka's CaseInsensitiveValidString lists its HashSet: GroupCoordinatorConfigTest
        // expects "DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL" for the enum's order below.
        let keys = ["BIDIRECTIONAL", "UPGRADE", "DOWNGRADE", "DISABLED"];
        let hashes: Vec<_> = keys.iter().map(|k| string_hash(k)).collect();
        let ordered: Vec<_> = hash_map_order(&hashes)
            .into_iter()
            .map(|i| keys[i])
            .collect();
        assert_eq!(
            ordered,
            ["DISABLED", "DOWNGRADE", "UPGRADE", "BIDIRECTIONAL"]
        );
    }

    #[test]
    fn the_table_grows_with_the_keys() {
        // 13 keys outgrow 16 bins: 17 and 1 then land in different bins of 32.
        let mut hashes: Vec<i32> = (2..=12).collect();
        hashes.extend([17, 1]);
        let order = hash_map_order(&hashes);
        let keys: Vec<_> = order.iter().map(|&i| hashes[i]).collect();
        assert_eq!(keys, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17]);
        // With 12 keys the table still has 16 bins: 17 sorts with 1.
        let mut hashes: Vec<i32> = (2..=11).collect();
        hashes.extend([17, 1]);
        let keys: Vec<_> = hash_map_order(&hashes).iter().map(|&i| hashes[i]).collect();
        assert_eq!(keys, [17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    }
}
