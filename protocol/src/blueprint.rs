//! The blueprint: the intake's named fields (docs/protocol.md section 8.5), in the order of
//! their importance, with the question an assistant asks to fill each.

use crate::entities::Phase;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One blueprint field. The declaration order is the importance order used by
/// `get_blueprint_gaps`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BlueprintField {
    Summary,
    Audience,
    Voice,
    Outline,
    IntegrityIdeals,
    PeopleBonds,
    GoalsMomentum,
    MeaningIdentity,
    RealityUnderstanding,
    TrustSafeguards,
    OpportunityFreedom,
    PowerResources,
    HarmonyIntegration,
}

/// How urgently a missing field should be asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GapPriority {
    High,
    Medium,
    Low,
}

/// A missing blueprint field, as `get_blueprint_gaps` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Gap {
    pub field: BlueprintField,
    pub priority: GapPriority,
    pub question: String,
}

/// Field values by field; serialized as a JSON object keyed by field name.
pub type Blueprint = BTreeMap<BlueprintField, String>;

impl BlueprintField {
    /// All fields, most important first.
    pub const ALL: [BlueprintField; 13] = [
        BlueprintField::Summary,
        BlueprintField::Audience,
        BlueprintField::Voice,
        BlueprintField::Outline,
        BlueprintField::IntegrityIdeals,
        BlueprintField::PeopleBonds,
        BlueprintField::GoalsMomentum,
        BlueprintField::MeaningIdentity,
        BlueprintField::RealityUnderstanding,
        BlueprintField::TrustSafeguards,
        BlueprintField::OpportunityFreedom,
        BlueprintField::PowerResources,
        BlueprintField::HarmonyIntegration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Audience => "audience",
            Self::Voice => "voice",
            Self::Outline => "outline",
            Self::IntegrityIdeals => "integrity_ideals",
            Self::PeopleBonds => "people_bonds",
            Self::GoalsMomentum => "goals_momentum",
            Self::MeaningIdentity => "meaning_identity",
            Self::RealityUnderstanding => "reality_understanding",
            Self::TrustSafeguards => "trust_safeguards",
            Self::OpportunityFreedom => "opportunity_freedom",
            Self::PowerResources => "power_resources",
            Self::HarmonyIntegration => "harmony_integration",
        }
    }

    /// A heading a person reads (and a drafter writes) for the field.
    pub fn title(self) -> &'static str {
        match self {
            Self::Summary => "Summary",
            Self::Audience => "Audience",
            Self::Voice => "Voice",
            Self::Outline => "Outline",
            Self::IntegrityIdeals => "Integrity & ideals",
            Self::PeopleBonds => "People & bonds",
            Self::GoalsMomentum => "Goals & momentum",
            Self::MeaningIdentity => "Meaning & identity",
            Self::RealityUnderstanding => "Reality & understanding",
            Self::TrustSafeguards => "Trust & safeguards",
            Self::OpportunityFreedom => "Opportunity & freedom",
            Self::PowerResources => "Power & resources",
            Self::HarmonyIntegration => "Harmony & integration",
        }
    }

    /// The four fields that shape the whole document are asked first; the first five
    /// dimensions next; the rest last.
    pub fn priority(self) -> GapPriority {
        match self {
            Self::Summary | Self::Audience | Self::Voice | Self::Outline => GapPriority::High,
            Self::IntegrityIdeals
            | Self::PeopleBonds
            | Self::GoalsMomentum
            | Self::MeaningIdentity
            | Self::RealityUnderstanding => GapPriority::Medium,
            _ => GapPriority::Low,
        }
    }

    /// The question an assistant can ask to fill the field.
    pub fn question(self) -> &'static str {
        match self {
            Self::Summary => "In a few sentences, what is this document about and why now?",
            Self::Audience => "Who will read it, and what do they need to come away with?",
            Self::Voice => "How should it sound: formal, warm, direct, playful?",
            Self::Outline => "What are the main parts, in the order you see them?",
            Self::IntegrityIdeals => "Which principles or values must the document stay true to?",
            Self::PeopleBonds => "Who are the people involved, and how are they connected?",
            Self::GoalsMomentum => "What are the goals, and what is already moving toward them?",
            Self::MeaningIdentity => "What does this mean to you, and to who you are?",
            Self::RealityUnderstanding => "What are the facts and constraints as they stand today?",
            Self::TrustSafeguards => "What risks worry you, and what protects against them?",
            Self::OpportunityFreedom => "What openings or choices does this create?",
            Self::PowerResources => "What money, time, skills or influence can be drawn on?",
            Self::HarmonyIntegration => {
                "How does it all fit together, and what must stay in balance?"
            }
        }
    }

    pub fn gap(self) -> Gap {
        Gap {
            field: self,
            priority: self.priority(),
            question: self.question().to_owned(),
        }
    }
}

/// The fields not yet filled (missing or blank), most important first.
pub fn gaps(blueprint: &Blueprint) -> Vec<Gap> {
    BlueprintField::ALL
        .into_iter()
        .filter(|f| blueprint.get(f).is_none_or(|v| v.trim().is_empty()))
        .map(BlueprintField::gap)
        .collect()
}

/// The question to ask next, as the conversation's phase picks it:
/// - `gathering`: the first open field still missing, else the most important gap;
/// - `clarifying`: the first open field, filled or not (clarifying revisits what was
///   said), else the most important gap;
/// - `finalizing`: only what the document cannot do without, the high-priority gaps
///   (open ones first); none when they are all filled;
/// - `completed`: none.
pub fn next_gap(blueprint: &Blueprint, phase: Phase, open: &[BlueprintField]) -> Option<Gap> {
    let missing = gaps(blueprint);
    let is_missing = |f: &BlueprintField| missing.iter().any(|g| g.field == *f);
    match phase {
        Phase::Completed => None,
        Phase::Gathering => open
            .iter()
            .find(|f| is_missing(f))
            .map(|f| f.gap())
            .or_else(|| missing.first().cloned()),
        Phase::Clarifying => open
            .first()
            .map(|f| f.gap())
            .or_else(|| missing.first().cloned()),
        Phase::Finalizing => {
            let essential = |f: &BlueprintField| f.priority() == GapPriority::High && is_missing(f);
            open.iter()
                .find(|f| essential(f))
                .map(|f| f.gap())
                .or_else(|| missing.iter().find(|g| essential(&g.field)).cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_question_follows_the_phase() {
        use BlueprintField as F;
        let mut bp = Blueprint::new();
        bp.insert(F::Summary, "a memoir".into());
        let open = [F::Voice, F::Summary, F::PeopleBonds];
        let next = |phase, open: &[F]| next_gap(&bp, phase, open).map(|g| g.field);
        assert_eq!(next(Phase::Gathering, &[]), Some(F::Audience));
        assert_eq!(next(Phase::Gathering, &open), Some(F::Voice));
        assert_eq!(next(Phase::Clarifying, &[F::Summary]), Some(F::Summary));
        assert_eq!(next(Phase::Clarifying, &[]), Some(F::Audience));
        assert_eq!(
            next(Phase::Finalizing, &[F::PeopleBonds, F::Outline]),
            Some(F::Outline)
        );
        assert_eq!(next(Phase::Completed, &open), None);
        for f in [F::Audience, F::Voice, F::Outline] {
            bp.insert(f, "set".into());
        }
        let next = |phase, open: &[F]| next_gap(&bp, phase, open).map(|g| g.field);
        assert_eq!(
            next(Phase::Finalizing, &[F::PeopleBonds]),
            None,
            "only essentials"
        );
        assert_eq!(next(Phase::Gathering, &[]), Some(F::IntegrityIdeals));
    }

    #[test]
    fn gaps_are_in_importance_order_and_skip_filled_fields() {
        let mut bp = Blueprint::new();
        bp.insert(BlueprintField::Audience, "founders".into());
        bp.insert(BlueprintField::Voice, "   ".into());
        let gaps = gaps(&bp);
        assert_eq!(gaps.len(), 12);
        assert_eq!(gaps[0].field, BlueprintField::Summary);
        assert_eq!(
            gaps[1].field,
            BlueprintField::Voice,
            "blank counts as missing"
        );
        assert_eq!(gaps[11].field, BlueprintField::HarmonyIntegration);
    }

    #[test]
    fn field_names_match_serde() {
        for f in BlueprintField::ALL {
            assert_eq!(serde_json::to_value(f).ok(), Some(f.as_str().into()));
        }
    }
}
