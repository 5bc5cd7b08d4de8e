//! Built-in single message transforms and predicates.
