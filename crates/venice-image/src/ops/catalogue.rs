//! The edit model catalogue of a [`Client`] and the edit rules checked against it before
//! an edit or multi-edit uploads anything.

use std::sync::Arc;

use venice_openapi::types;

use crate::client::{Client, cached};
use crate::edit_models::{EditFacts, EditModel};
use crate::error::Result;

/// The edit model the provider uses when a request names none.
pub(crate) const DEFAULT_EDIT_MODEL: &str = "firered-image-edit";

impl Client {
    /// The edit model catalogue (`GET /models?type=inpaint`), fetched once and cached in
    /// the client: each model's prompt limit, input-image limit, ratios, tiers and
    /// qualities.
    ///
    /// ```no_run
    /// # async fn run(client: venice_image::Client) -> venice_image::Result<()> {
    /// for m in client.edit_models().await?.iter() {
    ///     println!("{}: up to {} images", m.id(), m.input_image_limit());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn edit_models(&self) -> Result<Arc<Vec<EditModel>>> {
        cached(&self.inner.edit_models, || async {
            let list = self.model_list(types::ModelTypeFilter::Inpaint).await?;
            Ok(EditModel::from_list(list))
        })
        .await
    }

    /// Check an edit against its model's catalogue entry (when model validation is on):
    /// an unknown model, a prompt over its limit, too many images, or a ratio, tier or
    /// quality it does not take fail here, before any upload. The catalogue is advisory:
    /// when it cannot be fetched the server decides (a timeout still fails).
    pub(crate) async fn edit_preflight(
        &self,
        model: Option<&str>,
        field: &'static str,
        facts: &EditFacts<'_>,
    ) -> Result<()> {
        if !self.inner.model_validation {
            return Ok(());
        }
        match self.edit_models().await {
            Ok(models) => {
                let id = model.unwrap_or(DEFAULT_EDIT_MODEL);
                EditModel::find(&models, id, field)?.check(facts)?;
                Ok(())
            }
            Err(e) if e.is_timeout() => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "edit model catalogue unavailable; skipping model validation");
                Ok(())
            }
        }
    }
}
