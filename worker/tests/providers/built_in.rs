//! `compose`, the built-in offline drafter: deterministic, every filled field used,
//! paced per piece, stopped by cancellation.

use super::*;

#[tokio::test]
async fn compose_is_deterministic_and_uses_every_filled_field() {
    let input = input();
    let (first, pieces) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let (second, _) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let first = first.unwrap();
    assert_eq!(first, second.unwrap());
    for value in input.project.blueprint.values() {
        assert!(first.markdown.contains(value.as_str()), "{value}");
    }
    assert!(
        first
            .markdown
            .starts_with("# Harbour Workshop\n\n## Overview\n")
    );
    assert!(first.markdown.contains("## Power & resources\n"));
    assert!(
        first
            .markdown
            .contains("- [ ] Get a fire safety quote (high priority)")
    );
    assert!(first.markdown.contains("> — user, item `item_4`"));
    assert!(first.markdown.contains("- **Voice**: "));
    assert_eq!(
        first.sections,
        [
            "Overview",
            "Audience",
            "Power & resources",
            "Open questions",
            "Next steps",
            "Sources"
        ]
    );
    assert!(!first.summary.is_empty() && !first.summary.contains('\n'));
    assert!(pieces.len() > 10, "{}", pieces.len());
    assert_eq!(pieces.concat(), first.markdown);
}

#[tokio::test]
async fn compose_pauses_per_piece() {
    let input = input();
    let (quick, pieces) = draft(&Compose::default(), &input, &CancellationToken::new()).await;
    let delay = Duration::from_millis(5);
    let started = Instant::now();
    let (slow, _) = draft(&Compose::new(delay), &input, &CancellationToken::new()).await;
    let elapsed = started.elapsed();
    assert_eq!(quick.unwrap(), slow.unwrap());
    assert!(
        elapsed >= delay * pieces.len() as u32,
        "{elapsed:?} for {} pieces",
        pieces.len()
    );
}

#[tokio::test]
async fn compose_stops_when_cancelled() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let (result, pieces) = draft(&Compose::new(Duration::from_millis(40)), &input(), &cancel).await;
    assert!(
        matches!(result, Err(ProviderError::Cancelled)),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let all = compose::pieces(&Compose::write(&input(), 0).markdown, compose::PIECE_CHARS).len();
    assert!(pieces.len() < all / 2, "{} of {all} pieces", pieces.len());
}
