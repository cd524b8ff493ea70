//! Error messages that list what is wrong, without drowning the reader.

/// The first `shown` problems joined with "; ", then "and N more" for the rest.
pub(crate) fn join_first(mut problems: Vec<String>, shown: usize) -> String {
    let more = problems.len().saturating_sub(shown);
    problems.truncate(shown);
    if more > 0 {
        problems.push(format!("and {more} more"));
    }
    problems.join("; ")
}
