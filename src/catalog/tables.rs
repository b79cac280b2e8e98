//! The schema's tables by lowercase name, with the names of their indexes.
//!
//! A DDL statement builds a new [`super::Schema`] from the current one, so
//! its maps are persistent (`imbl`): a copy shares everything, a change
//! copies one path, and neither grows with the number of tables (a copy of
//! a hash map was most of a CREATE TABLE at 10,000 tables).
//!
//! Invariants: `indexes` holds, for every index of every table in `map`,
//! the index's lowercase name with the lowercase name of its table and how
//! many indexes have that name (more than one only in a catalog written
//! before names were checked); `children` holds, for every FOREIGN KEY of
//! every table, its parent's lowercase name and the table's key. Both are
//! kept by [`Tables::insert`] and [`Tables::remove`], the only ways in: a
//! table's indexes and constraints change only by replacing the table.

use std::sync::Arc;

use super::Table;

/// An index name's entry: the table holding it (lowercase) and how many
/// indexes have the name.
#[derive(Clone, Debug)]
struct IndexName {
    table: String,
    count: u32,
}

/// Tables by lowercase name, their indexes' names, and which tables name
/// which as a FOREIGN KEY's parent.
#[derive(Clone, Debug, Default)]
pub struct Tables {
    map: imbl::HashMap<String, Arc<Table>>,
    indexes: imbl::HashMap<String, IndexName>,
    /// (parent name lowercase, child table's key) → how many of the
    /// child's FOREIGN KEY constraints name that parent.
    children: imbl::OrdMap<(String, String), u32>,
}

impl Tables {
    /// The table whose lowercase name is `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<Table>> {
        self.map.get(key)
    }

    /// Whether a table's lowercase name is `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Every table, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<Table>> {
        self.map.values()
    }

    /// Every table's lowercase name, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// How many tables there are.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no table.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds or replaces the table under lowercase name `key`; returns the
    /// table it replaced.
    pub fn insert(&mut self, key: String, table: Arc<Table>) -> Option<Arc<Table>> {
        for i in &table.indexes {
            let name = i.name.to_lowercase();
            match self.indexes.get_mut(&name) {
                Some(e) => {
                    e.count += 1;
                    e.table.clone_from(&key);
                }
                None => {
                    self.indexes.insert(
                        name,
                        IndexName {
                            table: key.clone(),
                            count: 1,
                        },
                    );
                }
            }
        }
        for f in &table.foreign_keys {
            *self
                .children
                .entry((f.parent.to_lowercase(), key.clone()))
                .or_insert(0) += 1;
        }
        let old = self.map.insert(key.clone(), table);
        if let Some(old) = &old {
            self.forget_indexes(old);
            self.forget_children(&key, old);
        }
        old
    }

    /// Removes the table under lowercase name `key`.
    pub fn remove(&mut self, key: &str) -> Option<Arc<Table>> {
        let old = self.map.remove(key)?;
        self.forget_indexes(&old);
        self.forget_children(key, &old);
        Some(old)
    }

    fn forget_children(&mut self, key: &str, t: &Table) {
        for f in &t.foreign_keys {
            let k = (f.parent.to_lowercase(), key.to_string());
            let gone = match self.children.get_mut(&k) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => false,
            };
            if gone {
                self.children.remove(&k);
            }
        }
    }

    /// The tables with a FOREIGN KEY whose parent is named `parent` (ASCII
    /// case-insensitively, as SQLite matches names), in no particular
    /// order.
    pub fn children_of(&self, parent: &str) -> Vec<&Arc<Table>> {
        // Names equal but for ASCII case are equal in lowercase.
        let lower = parent.to_lowercase();
        self.children
            .range((lower.clone(), String::new())..)
            .take_while(|((p, _), _)| *p == lower)
            .filter_map(|((_, child), _)| self.map.get(child))
            .filter(|t| {
                t.foreign_keys
                    .iter()
                    .any(|f| f.parent.eq_ignore_ascii_case(parent))
            })
            .collect()
    }

    fn forget_indexes(&mut self, t: &Table) {
        for i in &t.indexes {
            let name = i.name.to_lowercase();
            let gone = match self.indexes.get_mut(&name) {
                Some(e) => {
                    e.count = e.count.saturating_sub(1);
                    e.count == 0
                }
                None => false,
            };
            if gone {
                self.indexes.remove(&name);
            }
        }
    }

    /// Whether an index's lowercase name is `lower`.
    pub fn index_name_taken(&self, lower: &str) -> bool {
        self.indexes.contains_key(lower)
    }

    /// The table holding the index named `name` (ASCII case-insensitively,
    /// as SQLite matches names).
    pub fn index_table(&self, name: &str) -> Option<&Arc<Table>> {
        let has = |t: &&Arc<Table>| t.indexes.iter().any(|i| i.name.eq_ignore_ascii_case(name));
        // Names equal but for ASCII case are equal in lowercase, so an
        // index matching `name` is under its lowercase name.
        // The entry's table is a hint (a name held twice keeps only one);
        // whether the entry exists is exact.
        let e = self.indexes.get(&name.to_lowercase())?;
        self.map
            .get(&e.table)
            .filter(has)
            .or_else(|| self.map.values().find(has))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::catalog::Schema;
    use crate::syntax::parse::parse;

    fn schema_of(sql: &[&str]) -> Schema {
        let mut s = Schema {
            next_id: 1,
            ..Schema::default()
        };
        struct Sink;
        impl crate::catalog::CatalogWriter for Sink {
            fn put(&mut self, _: Vec<u8>, _: Vec<u8>) -> crate::error::Result<()> {
                Ok(())
            }
            fn delete(&mut self, _: Vec<u8>) -> crate::error::Result<()> {
                Ok(())
            }
        }
        for q in sql {
            let st = parse(q).unwrap().statements.remove(0);
            s = match st {
                crate::syntax::ast::Statement::CreateTable(ct) => {
                    s.create_table(&ct, &mut Sink).unwrap()
                }
                crate::syntax::ast::Statement::CreateIndex(ci) => {
                    s.create_index(&ci, &mut Sink).unwrap().0
                }
                other => panic!("not a CREATE: {other:?}"),
            };
        }
        s
    }

    #[test]
    fn index_names_follow_their_tables() {
        let s = schema_of(&[
            "CREATE TABLE t (a INT UNIQUE, b INT)",
            "CREATE INDEX Ib ON t (b)",
            "CREATE TABLE u (x INT)",
        ]);
        assert!(s.tables.index_name_taken("ib"));
        assert_eq!(s.tables.index_table("IB").unwrap().name, "t");
        assert!(s.tables.index_table("sqlite_autoindex_t_1").is_some());
        assert!(s.tables.index_table("nope").is_none());
        // A copy shares; changing it leaves the original as it was.
        let mut c = s.clone();
        let t = c.tables.get("t").unwrap().clone();
        let mut t2 = (*t).clone();
        t2.indexes.retain(|i| i.name != "Ib");
        c.tables.insert("t".into(), Arc::new(t2));
        assert!(!c.tables.index_name_taken("ib"));
        assert!(s.tables.index_name_taken("ib"));
        c.tables.remove("t");
        assert!(c.tables.index_table("sqlite_autoindex_t_1").is_none());
        assert!(!c.tables.index_name_taken("sqlite_autoindex_t_1"));
        assert_eq!(c.tables.len(), 1);
        assert_eq!(s.tables.len(), 2);
    }

    #[test]
    fn children_follow_their_foreign_keys() {
        let s = schema_of(&[
            "CREATE TABLE p (id INTEGER PRIMARY KEY)",
            "CREATE TABLE c (x INT REFERENCES P (id), y INT REFERENCES p (id))",
            "CREATE TABLE d (x INT REFERENCES p (id))",
            "CREATE TABLE e (x INT REFERENCES q (id))",
        ]);
        let names = |s: &Schema, parent: &str| {
            let mut v: Vec<String> = s
                .tables
                .children_of(parent)
                .iter()
                .map(|t| t.name.clone())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&s, "P"), ["c", "d"]);
        assert_eq!(names(&s, "q"), ["e"]);
        assert!(names(&s, "e").is_empty());
        let mut c = s.clone();
        // c replaced by a copy without its constraints, d removed.
        let mut t = (**c.tables.get("c").unwrap()).clone();
        t.foreign_keys.clear();
        c.tables.insert("c".into(), Arc::new(t));
        c.tables.remove("d");
        assert!(names(&c, "p").is_empty());
        assert_eq!(names(&s, "p"), ["c", "d"]);
    }

    #[test]
    fn a_name_held_twice_is_found_until_both_are_gone() {
        let s = schema_of(&[
            "CREATE TABLE t (a INT)",
            "CREATE TABLE u (b INT)",
            "CREATE INDEX i ON t (a)",
        ]);
        // A catalog written before names were checked may hold a name
        // twice: replacing u with a copy holding its own "I".
        let mut c = s.clone();
        let ti = c.tables.get("t").unwrap().indexes[0].clone();
        let mut u = (**c.tables.get("u").unwrap()).clone();
        let mut ui = ti.clone();
        ui.name = "I".into();
        u.indexes.push(ui);
        c.tables.insert("u".into(), Arc::new(u));
        assert!(c.tables.index_table("i").is_some());
        c.tables.remove("t");
        assert_eq!(c.tables.index_table("i").unwrap().name, "u");
        c.tables.remove("u");
        assert!(!c.tables.index_name_taken("i"));
    }
}
