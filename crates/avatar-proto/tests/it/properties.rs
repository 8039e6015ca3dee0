//! Property tests: parsers never panic, builders and parsers agree, selection obeys RFC 2782.

use avatar_proto::srv::{SplitMix64, SrvChoice, UniformRandom as _, select};
use avatar_proto::{
    AvatarHash, AvatarQuery, AvatarRequest, AvatarUrlBuilder, BaseOrigin, BaseUrl, Email,
    HashAlgorithm, Identity, RequestRules, Scheme, SrvRecord, TrustedUrls,
};
use proptest::prelude::*;

/// Query strings made of the characters that matter, so the interesting paths are reached often.
fn query_like() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "((s|size|d|default|f|forcedefault|robohash|r|x)=[-0-9a-zA-Z%+&=/:.\\\\ ]{0,12}&?){0,6}",
    )
    .expect("valid regex")
}

proptest! {
    #[test]
    fn request_parsing_never_panics_on_arbitrary_bytes(
        segment in prop::collection::vec(any::<u8>(), 0..80),
        query in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let rules = RequestRules::default();
        if let Ok(request) = AvatarRequest::parse(&rules, &segment, &query) {
            prop_assert!((1..=512).contains(&request.size));
        }
    }

    #[test]
    fn request_parsing_keeps_size_in_range_for_query_like_input(query in query_like(), max in 1u32..=4096) {
        let rules = RequestRules::default().max_size(max).unwrap();
        let request = AvatarRequest::parse(&rules, "40f8d096a3777232204cb3f796c577b7.png", query.as_bytes()).unwrap();
        prop_assert!((1..=max).contains(&request.size));
    }

    #[test]
    fn redirect_targets_are_never_protocol_relative_or_untrusted(candidate in "[/\\\\a-z:.@%#?2fFc ]{0,30}|https?://[a-z.@%2e]{0,20}/avatar/[a-z./%]{0,10}") {
        if let Some(target) = TrustedUrls::default().redirect_target(&candidate) {
            let target = target.as_str();
            prop_assert!(!target.starts_with("//"), "{target}");
            prop_assert!(!target.contains('\\'), "{target}");
            prop_assert!(
                target.starts_with('/')
                    || target.starts_with("http://gravatar.com/avatar/")
                    || target.starts_with("https://gravatar.com/avatar/")
                    || target.starts_with("https://ui-avatars.com/api/")
                    || target.starts_with("https://api.dicebear.com/")
                    || (target.contains(".gravatar.com/avatar/") && target.starts_with("http")),
                "{target}"
            );
        }
    }

    #[test]
    fn url_builder_output_parses_back_to_the_same_options(
        local in "[a-zA-Z0-9_+-]{1,8}(\\.[a-zA-Z0-9_+-]{1,4})?",
        domain in "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?\\.[a-z]{2,4}",
        https in any::<bool>(),
        sha256 in any::<bool>(),
        size in proptest::option::of(any::<u32>()),
        default in proptest::option::of(any::<String>()),
        force in any::<bool>(),
    ) {
        let identity = Identity::parse(&format!("{local}@{domain}")).unwrap();
        let scheme = if https { Scheme::Https } else { Scheme::Http };
        let algorithm = if sha256 { HashAlgorithm::Sha256 } else { HashAlgorithm::Md5 };
        let mut builder = AvatarUrlBuilder::new(identity.clone()).scheme(scheme).algorithm(algorithm).force_default(force);
        if let Some(size) = size { builder = builder.size(size); }
        if let Some(default) = &default { builder = builder.default_image(default.clone()); }
        let url = builder.build();

        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        prop_assert!(path.starts_with(scheme.central_base()));
        let hash: AvatarHash = path[scheme.central_base().len()..].parse().unwrap();
        prop_assert_eq!(hash, identity.hash(algorithm));

        let parsed = AvatarQuery::parse(query.as_bytes());
        let expected_size = size.map(|size| size.clamp(1, 512).to_string());
        prop_assert_eq!(parsed.size.as_deref(), expected_size.as_deref());
        prop_assert_eq!(parsed.forces_default(), force);
        prop_assert_eq!(parsed.default.as_deref(), default.as_deref().filter(|default| !default.is_empty()));
    }

    #[test]
    fn selection_always_returns_a_record_of_the_lowest_priority(
        fields in prop::collection::vec((0u16..4, any::<u16>(), 1u16..=65535, "[a-z]{1,8}"), 1..8),
        seed in any::<u64>(),
    ) {
        let records: Vec<SrvRecord> = fields
            .into_iter()
            .map(|(priority, weight, port, target)| SrvRecord::new(priority, weight, port, target))
            .collect();
        let lowest = records.iter().map(|record| record.priority).min().unwrap();
        let mut rng = SplitMix64::new(seed);
        for _ in 0..32 {
            match select(&records, &mut |max| rng.uniform_inclusive(max)) {
                SrvChoice::Record(record) => prop_assert_eq!(record.priority, lowest),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn sanitiser_never_accepts_a_character_outside_the_allowed_set(
        target in prop_oneof![any::<String>(), "[0-9A-Za-z.\\-_/@: é]{0,20}\\.?"],
        port in any::<u16>(),
    ) {
        let record = SrvRecord::new(0, 0, port, target);
        if let Ok(sanitised) = record.sanitise() {
            prop_assert!(sanitised.host().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
            prop_assert!(sanitised.port() != 0);
            let base = BaseUrl::federated(Scheme::Https, sanitised);
            prop_assert!(base.as_str().ends_with("/avatar/"));
        } else {
            let base = BaseUrl::from_srv(Scheme::Http, &[record], &mut |_| 0);
            prop_assert!(matches!(base.origin(), BaseOrigin::Central(_)));
        }
    }

    #[test]
    fn email_normalisation_is_idempotent(input in prop_oneof![any::<String>(), "[ \\t]{0,2}[a-zA-ZÀ-ÿİ.+_-]{1,10}@[a-zA-ZÀ-ÿİ.-]{1,10}[ \\t]{0,2}"]) {
        if let Ok(email) = Email::parse(&input) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        }
    }

    #[test]
    fn identity_parsing_never_panics(input in any::<String>()) {
        if let Ok(identity) = Identity::parse(&input) {
            let _ = identity.domain();
            prop_assert!(!identity.published_hashes().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Over 20,000 draws each record's share is within 2 percentage points of its weight share.
    ///
    /// The RFC 2782 draw takes `r` from `0..=total`, which gives the first record one extra
    /// chance in `total + 1`; weights summing to at least 1,000 keep that under 0.1 points, so the
    /// 2 points are left to sampling noise (more than 5 standard deviations at 20,000 draws).
    #[test]
    fn weighted_shares_match_weights_over_20000_draws(
        weights in prop::collection::vec(prop_oneof![1 => Just(0u16), 4 => 1u16..=65535], 1..6),
        seed in any::<u64>(),
    ) {
        const DRAWS: u32 = 20_000;
        let total: u64 = weights.iter().map(|&weight| u64::from(weight)).sum();
        prop_assume!(total >= 1000);
        let records: Vec<SrvRecord> = weights
            .iter()
            .enumerate()
            .map(|(index, &weight)| SrvRecord::new(7, weight, 443, format!("host{index}")))
            .collect();
        let mut counts = vec![0u32; records.len()];
        let mut rng = SplitMix64::new(seed);
        for _ in 0..DRAWS {
            let SrvChoice::Record(chosen) = select(&records, &mut |max| rng.uniform_inclusive(max)) else {
                panic!("records with targets always give a record");
            };
            let index = records.iter().position(|record| std::ptr::eq(record, chosen)).unwrap();
            counts[index] += 1;
        }
        for (index, &weight) in weights.iter().enumerate() {
            let expected = f64::from(weight) / f64::from(u32::try_from(total).unwrap());
            let observed = f64::from(counts[index]) / f64::from(DRAWS);
            prop_assert!(
                (observed - expected).abs() <= 0.02,
                "record {} weight {} of {}: expected {:.4}, observed {:.4}", index, weight, total, expected, observed
            );
        }
    }
}

#[test]
fn all_zero_weights_spread_evenly() {
    let records: Vec<SrvRecord> = (0..4)
        .map(|index| SrvRecord::new(0, 0, 443, format!("h{index}")))
        .collect();
    let mut counts = [0u32; 4];
    let mut rng = SplitMix64::new(42);
    for _ in 0..20_000 {
        let SrvChoice::Record(chosen) = select(&records, &mut |max| rng.uniform_inclusive(max))
        else {
            panic!()
        };
        counts[records
            .iter()
            .position(|record| std::ptr::eq(record, chosen))
            .unwrap()] += 1;
    }
    for count in counts {
        assert!(
            (f64::from(count) / 20_000.0 - 0.25).abs() <= 0.02,
            "{counts:?}"
        );
    }
}
