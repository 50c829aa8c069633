//! A stand-in for the simulator's `superheros` hash (seed §1.6): 732 heroes with ids 1..=732 and
//! powerstats 1..=100, about 14% with all stats null (counted as 1), and
//! `health = intelligence * strength * durability * 10` (10..=10^7),
//! `attack = speed * power * combat` (1..=10^6). The table is fixed (its own constant seed), like the
//! real hero database.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Number of heroes, as in the simulator's snapshot.
pub const HERO_COUNT: u32 = 732;

/// One hero's derived stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeroStats {
    pub id: u32,
    pub health: i64,
    pub attack: i64,
}

/// The hero table.
#[derive(Debug, Clone)]
pub struct Heroes {
    table: Vec<HeroStats>,
}

impl Default for Heroes {
    fn default() -> Self {
        Self::new()
    }
}

impl Heroes {
    pub fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(0x5EED_0732);
        let table = (1..=HERO_COUNT)
            .map(|id| {
                let all_null = rng.gen_bool(102.0 / 732.0);
                let mut stat = || -> i64 {
                    if all_null {
                        1
                    } else {
                        rng.gen_range(1..=100)
                    }
                };
                let (int, str_, dur, spd, pow, com) =
                    (stat(), stat(), stat(), stat(), stat(), stat());
                HeroStats {
                    id,
                    health: int * str_ * dur * 10,
                    attack: spd * pow * com,
                }
            })
            .collect();
        Heroes { table }
    }

    /// Hero `id` (1-based). Ids outside 1..=732 wrap around.
    pub fn get(&self, id: u32) -> HeroStats {
        let idx = (id.max(1) - 1) as usize % self.table.len();
        self.table[idx]
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stats_stay_in_the_original_ranges() {
        let h = Heroes::new();
        assert_eq!(h.len(), 732);
        for id in 1..=HERO_COUNT {
            let s = h.get(id);
            assert_eq!(s.id, id);
            assert!((10..=10_000_000).contains(&s.health), "{s:?}");
            assert!((1..=1_000_000).contains(&s.attack), "{s:?}");
        }
        let nulls = (1..=HERO_COUNT)
            .filter(|i| h.get(*i).health == 10 && h.get(*i).attack == 1)
            .count();
        assert!((60..=150).contains(&nulls), "{nulls} all-null heroes");
    }
}
