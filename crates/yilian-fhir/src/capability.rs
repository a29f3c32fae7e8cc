//! `CapabilityStatement` for `/fhir/metadata`, built from what the server
//! actually routes — so that it tells the truth.

use serde_json::{Value, json};

/// A type-level or instance-level interaction (R4 `TypeRestfulInteraction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    Read,
    Vread,
    Update,
    Patch,
    Delete,
    HistoryInstance,
    HistoryType,
    Create,
    SearchType,
}

impl Interaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Interaction::Read => "read",
            Interaction::Vread => "vread",
            Interaction::Update => "update",
            Interaction::Patch => "patch",
            Interaction::Delete => "delete",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::Create => "create",
            Interaction::SearchType => "search-type",
        }
    }
}

/// `SearchParamType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::Date => "date",
            ParamType::String => "string",
            ParamType::Token => "token",
            ParamType::Reference => "reference",
            ParamType::Composite => "composite",
            ParamType::Quantity => "quantity",
            ParamType::Uri => "uri",
            ParamType::Special => "special",
        }
    }
}

/// One supported search parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParam {
    pub name: String,
    pub kind: ParamType,
    pub documentation: Option<String>,
}

impl SearchParam {
    pub fn new(name: &str, kind: ParamType) -> SearchParam {
        SearchParam {
            name: name.into(),
            kind,
            documentation: None,
        }
    }
}

/// What the server supports for one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSupport {
    pub resource_type: String,
    pub interactions: Vec<Interaction>,
    pub search_params: Vec<SearchParam>,
    /// `_include` values, e.g. `ServiceRequest:subject`.
    pub search_include: Vec<String>,
    /// `meta.versionId` + ETag maintained (`versioned`), and `If-Match` honoured.
    pub versioned: bool,
    /// Profile canonical URLs the resources conform to, if any.
    pub profiles: Vec<String>,
}

impl ResourceSupport {
    pub fn new(resource_type: &str, interactions: &[Interaction]) -> ResourceSupport {
        ResourceSupport {
            resource_type: resource_type.into(),
            interactions: interactions.to_vec(),
            search_params: Vec::new(),
            search_include: Vec::new(),
            versioned: false,
            profiles: Vec::new(),
        }
    }
    pub fn search(mut self, params: &[(&str, ParamType)]) -> ResourceSupport {
        self.search_params
            .extend(params.iter().map(|(n, k)| SearchParam::new(n, *k)));
        self
    }
    pub fn versioned(mut self) -> ResourceSupport {
        self.versioned = true;
        self
    }
}

/// Everything the statement states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The FHIR base URL (`implementation.url`).
    pub base_url: String,
    pub software_version: String,
    /// Publication date, `YYYY-MM-DD` (or a full dateTime).
    pub date: String,
    pub resources: Vec<ResourceSupport>,
    /// `transaction` system interaction supported.
    pub transaction: bool,
    /// SMART / security description, e.g. the session-cookie or bearer scheme.
    pub security_description: Option<String>,
}

/// The `CapabilityStatement` (kind `instance`, FHIR 4.0.1, JSON only).
pub fn capability_statement(c: &Capabilities) -> Value {
    let resources: Vec<Value> = c
        .resources
        .iter()
        .map(|r| {
            let mut o = json!({
                "type": r.resource_type,
                "interaction": r.interactions.iter().map(|i| json!({ "code": i.as_str() })).collect::<Vec<_>>(),
                "versioning": if r.versioned { "versioned-update" } else { "no-version" },
                "readHistory": false,
                "updateCreate": false,
                "conditionalCreate": false,
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
            });
            if !r.search_params.is_empty() {
                o["searchParam"] = json!(r
                    .search_params
                    .iter()
                    .map(|p| {
                        let mut s = json!({ "name": p.name, "type": p.kind.as_str() });
                        if let Some(d) = &p.documentation {
                            s["documentation"] = json!(d);
                        }
                        s
                    })
                    .collect::<Vec<_>>());
            }
            if !r.search_include.is_empty() {
                o["searchInclude"] = json!(r.search_include);
            }
            if !r.profiles.is_empty() {
                o["supportedProfile"] = json!(r.profiles);
            }
            o
        })
        .collect();
    let mut rest = json!({
        "mode": "server",
        "resource": resources,
    });
    if c.transaction {
        rest["interaction"] = json!([{ "code": "transaction" }]);
    }
    if let Some(d) = &c.security_description {
        rest["security"] = json!({ "description": d });
    }
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": c.date,
        "publisher": "yilian",
        "kind": "instance",
        "software": { "name": "yilian", "version": c.software_version },
        "implementation": { "description": "yilian 县域分级诊疗平台 FHIR R4 接口", "url": c.base_url },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [rest],
    })
}
