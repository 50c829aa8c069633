//! Superhero game-server load generator.
