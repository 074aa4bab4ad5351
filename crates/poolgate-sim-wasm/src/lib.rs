//! The planner page's entry point: query string in, JSON out. Built by `scripts/build-planner`
//! into www/planner/pkg (not part of the npm package, whose wasm stays small). Converts only;
//! the planning is poolgate-sim's.

use wasm_bindgen::prelude::*;

/// Runs the plan given as a URL query string and returns the report as JSON. A bad plan throws
/// a `RangeError` that names the parameter.
#[wasm_bindgen(js_name = runPlan)]
pub fn run_plan(query: &str) -> Result<String, JsValue> {
    let plan = poolgate_sim::Plan::from_query(query).map_err(|e| js_sys_range_error(&e))?;
    poolgate_sim::plan(&plan, false)
        .map(|r| r.to_json())
        .map_err(|e| js_sys_range_error(&e))
}

/// The presets as JSON: `[{"name": ..., "about": ..., "query": ...}]`.
#[wasm_bindgen(js_name = presets)]
pub fn presets() -> String {
    let items: Vec<String> = poolgate_sim::PRESETS
        .iter()
        .map(|(name, about)| {
            let q = poolgate_sim::presets::preset(name)
                .map(|p| p.to_query())
                .unwrap_or_default();
            format!(
                "{{\"name\":\"{name}\",\"about\":\"{}\",\"query\":\"{q}\"}}",
                about.replace('"', "'")
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = RangeError)]
    type RangeError;
    #[wasm_bindgen(constructor, js_class = "RangeError")]
    fn new(message: &str) -> RangeError;
}

fn js_sys_range_error(message: &str) -> JsValue {
    RangeError::new(message).into()
}
