//! What every command gets: where the home is, the recipes, the mirrors and the reporter.

use std::path::PathBuf;

use crate::error::Error;
use crate::interpreters::download::{DownloadLimits, RetryPolicy};
use crate::interpreters::home::Home;
use crate::interpreters::recipe::RecipeBook;
use crate::output::progress::Reporter;

#[derive(Clone)]
pub struct Context {
    pub home: Home,
    /// `FTPY_RECIPES`: read only by commands that need recipes.
    pub recipes_dir: Option<PathBuf>,
    /// Mirror bases laid out like python.org's `ftp/python/`, tried in order; empty: upstream.
    pub mirrors: Vec<String>,
    pub retry: RetryPolicy,
    /// How big and how slow a source download may be.
    pub limits: DownloadLimits,
    pub reporter: Reporter,
}

impl Context {
    pub fn recipes(&self) -> Result<RecipeBook, Error> {
        Ok(RecipeBook::load(self.recipes_dir.as_deref())?)
    }
}
