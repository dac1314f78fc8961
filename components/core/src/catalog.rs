//! Every HTTP component and every scheduled job, for the checks that keep
//! spin.toml, the access policy and the code in agreement. Components never
//! reference this module, so none of them links the others' code.

use crate::app::App;
use crate::scheduler::Job;

/// Every HTTP component's app.
pub const APPS: &[&App] = &[
    &crate::health::APP,
    &crate::static_files::APP,
    &crate::static_files::ASSETS_APP,
    &crate::jobs::api::APP,
    &crate::identity::api::APP,
    &crate::heartbeat::APP,
    &crate::ai::worker::APP,
    &crate::notion::APP,
    &crate::ops::api::APP,
    &crate::incidents::APP,
    &crate::slo::APP,
    &crate::costs::APP,
    &crate::scale::APP,
    &crate::anomaly::APP,
    &crate::reports::APP,
    &crate::payments::APP,
    &crate::backup::APP,
    &crate::audit::APP,
    &crate::analytics::APP,
    &crate::analytics::rollup::APP,
    &crate::demo::APP,
    &crate::payments::routes::APP,
    &crate::compliance::api::APP,
    &crate::finance::api::APP,
    &crate::workflows::api::APP,
    &crate::security::APP,
    &crate::security::secrets::APP,
    &crate::privacy::APP,
    &crate::privacy::retention::APP,
    &crate::dr::api::APP,
    &crate::dr::APP,
];

/// Every scheduled job.
pub const JOBS: &[&Job] = &[
    &crate::heartbeat::JOB,
    &crate::ai::worker::JOB,
    &crate::notion::JOB,
    &crate::incidents::JOB,
    &crate::slo::JOB,
    &crate::costs::JOB,
    &crate::scale::JOB,
    &crate::anomaly::JOB,
    &crate::reports::JOB,
    &crate::payments::JOB,
    &crate::backup::JOB,
    &crate::audit::JOB,
    &crate::analytics::rollup::JOB,
    &crate::demo::JOB,
    &crate::security::secrets::JOB,
    &crate::privacy::retention::JOB,
    &crate::dr::JOB,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access;

    #[test]
    fn every_route_has_an_access_policy_and_every_policy_a_route() {
        for app in APPS {
            for r in app.routes {
                assert!(
                    access::requirement(r.method, r.pattern).is_some(),
                    "{} {} {} has no access policy",
                    app.component,
                    r.method.as_str(),
                    r.pattern
                );
            }
        }
        for p in access::POLICY {
            let served = APPS.iter().any(|a| {
                a.routes
                    .iter()
                    .any(|r| r.method == p.method && r.pattern == p.pattern)
            });
            assert!(
                served,
                "policy row {} {} matches no route",
                p.method.as_str(),
                p.pattern
            );
        }
    }

    #[test]
    fn only_public_reads_are_answered_at_the_edge() {
        use crate::http::router::Edge;
        use crate::http::Method;
        for app in APPS {
            for r in app.routes.iter().filter(|r| r.edge != Edge::None) {
                assert_eq!(
                    access::requirement(r.method, r.pattern),
                    Some(access::Access::Public),
                    "{} {} is answered at the edge but is not public",
                    r.method.as_str(),
                    r.pattern
                );
                assert_eq!(r.method, Method::Get, "{} is not a read", r.pattern);
            }
        }
    }

    #[test]
    fn security_md_shows_the_permission_table_as_it_is() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/SECURITY.md"
        ))
        .unwrap();
        let table = access::markdown();
        assert!(
            doc.contains(&table),
            "docs/SECURITY.md must contain the permission table exactly as access::markdown() renders it:\n{table}"
        );
    }

    #[test]
    fn job_names_list_every_job_once() {
        let names: Vec<&str> = JOBS.iter().map(|j| j.name).collect();
        assert_eq!(names, crate::scheduler::JOB_NAMES);
    }

    #[test]
    fn every_job_has_its_internal_route_in_its_component() {
        for job in JOBS {
            let app = APPS
                .iter()
                .find(|a| a.component == job.component)
                .unwrap_or_else(|| panic!("{} has no app", job.component));
            let path = format!("/api/internal/cron/{}", job.name);
            assert!(
                app.routes.iter().any(|r| r.pattern == path),
                "{} lacks {path}",
                job.component
            );
        }
    }
}
