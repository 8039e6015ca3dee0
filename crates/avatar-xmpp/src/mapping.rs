//! Which identity a JID on the component's domain stands for, and back.

use avatar_proto::Identity;
use jid::{BareJid, Jid};

use crate::escape::{escape_node, unescape_node};

/// Maps JIDs on the component's domain to identities.
///
/// - A node holding a XEP-0106-escaped address names that address:
///   `alice\40example.org@avatars.example.org` is `alice@example.org`.
/// - With an identity domain configured, a plain node names an address there:
///   `alice@avatars.example.org` is `alice@example.org`. Several may be listed (they are the
///   domains whose users may have their avatars mirrored, see
///   [`ComponentConfig::mirror_subscribers`](crate::ComponentConfig::mirror_subscribers)); plain
///   nodes name addresses on the first.
///
/// ```
/// use avatar_xmpp::JidMapping;
///
/// let mapping = JidMapping::new("avatars.example.org").identity_domain("example.org");
/// let jid = "alice@avatars.example.org".parse()?;
/// assert_eq!(mapping.identity_of(&jid).unwrap().to_string(), "alice@example.org");
/// let escaped = "bob\\40elsewhere.net@avatars.example.org".parse()?;
/// assert_eq!(mapping.identity_of(&escaped).unwrap().to_string(), "bob@elsewhere.net");
/// # Ok::<(), jid::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct JidMapping {
    component_domain: String,
    identity_domains: Vec<String>,
}

impl JidMapping {
    /// JIDs on `component_domain` (such as `avatars.example.org`) name identities.
    pub fn new(component_domain: impl Into<String>) -> Self {
        Self {
            component_domain: component_domain.into().to_lowercase(),
            identity_domains: Vec::new(),
        }
    }

    /// Lists `domain` (such as `example.org`): plain nodes name addresses on the first domain
    /// listed, and users of every listed domain may be mirrored.
    pub fn identity_domain(mut self, domain: impl Into<String>) -> Self {
        let domain = domain.into().to_lowercase();
        if !self.identity_domains.contains(&domain) {
            self.identity_domains.push(domain);
        }
        self
    }

    /// Whether `domain` is one of the listed identity domains.
    #[must_use]
    pub fn lists(&self, domain: &str) -> bool {
        self.identity_domains
            .iter()
            .any(|listed| listed.eq_ignore_ascii_case(domain))
    }

    /// The domain plain nodes name addresses on: the first listed.
    fn plain_node_domain(&self) -> Option<&str> {
        self.identity_domains.first().map(String::as_str)
    }

    /// The component's domain.
    #[must_use]
    pub fn component_domain(&self) -> &str {
        &self.component_domain
    }

    /// The identity `jid` stands for; `None` for JIDs on other domains, without a node, or whose
    /// node is not an address.
    #[must_use]
    pub fn identity_of(&self, jid: &Jid) -> Option<Identity> {
        if !jid
            .domain()
            .as_str()
            .eq_ignore_ascii_case(&self.component_domain)
        {
            return None;
        }
        let node = unescape_node(jid.node()?.as_str());
        let address = if node.contains('@') {
            node
        } else {
            format!("{node}@{}", self.plain_node_domain()?)
        };
        match Identity::parse(&address) {
            Ok(identity @ Identity::Email(_)) => Some(identity),
            _ => None,
        }
    }

    /// The JID on the component's domain that stands for `identity` (an email address).
    ///
    /// # Errors
    /// [`jid::Error`] if the result is not a valid JID (for example an over-long address).
    pub fn jid_of(&self, identity: &Identity) -> Result<BareJid, jid::Error> {
        let text = identity.as_str();
        let node = match (self.plain_node_domain(), text.rsplit_once('@')) {
            (Some(domain), Some((local, host))) if host == domain && !local.contains('\\') => {
                escape_node(local)
            }
            _ => escape_node(text),
        };
        BareJid::new(&format!("{node}@{}", self.component_domain))
    }

    /// Whether `from` is the owner of `identity`: the bare JID of the sender is the address.
    #[must_use]
    pub fn is_owner(from: &Jid, identity: &Identity) -> bool {
        from.to_bare()
            .as_str()
            .eq_ignore_ascii_case(identity.as_str())
    }
}
