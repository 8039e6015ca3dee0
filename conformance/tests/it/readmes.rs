//! The READMEs count the cases there are: the group table of `conformance/README.md` and the
//! summary in the project's README, which drifted once (105 server cases said, 107 run).

use avatar_conformance::{Group, all_cases};

#[test]
fn the_readmes_count_the_cases_there_are() {
    let cases = all_cases();
    let count = |group: Group| cases.iter().filter(|case| case.group == group).count();
    let suite_readme = include_str!("../../README.md");
    for group in Group::ALL {
        let row = format!("| `{}` | {} |", group.name(), count(group));
        assert!(
            suite_readme.contains(&row),
            "conformance/README.md should have the row {row}"
        );
    }
    let server = count(Group::LibravatarServer);
    let discovery = count(Group::LibravatarDiscovery);
    let xmpp: usize = Group::ALL
        .into_iter()
        .filter(|group| group.is_xmpp())
        .map(count)
        .sum();
    let summary = format!(
        "{} Libravatar cases ({server} server, {discovery} discovery) and {xmpp} XMPP cases",
        server + discovery
    );
    assert!(
        include_str!("../../../README.md").contains(&summary),
        "README.md should say \"{summary}\""
    );
}
