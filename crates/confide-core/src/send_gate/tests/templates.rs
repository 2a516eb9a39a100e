//! Templates: only an approved template in the asked language, with the right number of
//! parameters, is sent.

use super::*;

#[test]
fn every_template_status_but_approved_is_refused() {
    for status in TemplateStatus::ALL {
        assert_eq!(status.as_str().parse::<TemplateStatus>(), Ok(status));
        for category in TemplateCategory::ALL {
            let mut w = World::allowed();
            w.template = Some(template(category, status));
            let r = w.decide(ORDER_UPDATE);
            if status == TemplateStatus::Approved {
                assert!(r.is_ok(), "{status} {category}");
            } else {
                assert_eq!(
                    r.unwrap_err(),
                    Refusal::TemplateNotApproved {
                        name: "order_update".into(),
                        language: "en_US".into(),
                        status: Some(status),
                    }
                );
            }
        }
    }
    assert!("approved".parse::<TemplateStatus>().is_err());
    assert!("FLAGGED".parse::<TemplateStatus>().is_err());
}

#[test]
fn a_missing_template_or_another_language_is_not_approved() {
    let mut w = World::allowed();
    w.template = None;
    let r = w.decide(ORDER_UPDATE).unwrap_err();
    assert_eq!(r.code(), "template_not_approved");
    assert!(r.message().contains("no template"), "{r}");

    let w = World::allowed();
    for (name, language) in [("order_update", "pt_BR"), ("order_updates", "en_US")] {
        let content = Content::Template {
            name,
            language,
            params: 2,
        };
        assert_eq!(w.code(content), "template_not_approved");
    }
}

#[test]
fn template_parameter_count_must_match() {
    let w = World::allowed();
    for params in [0, 1, 3, 10] {
        let r = w
            .decide(Content::Template {
                name: "order_update",
                language: "en_US",
                params,
            })
            .unwrap_err();
        assert_eq!(
            r,
            Refusal::TemplateParams {
                name: "order_update".into(),
                expected: 2,
                got: params,
            }
        );
        assert_eq!(r.code(), "template_params");
        let m = r.message();
        assert!(
            m.contains("takes 2") && m.contains(&format!("{params} were given")),
            "{m}"
        );
    }
}
