//! Error messages that list what is wrong, without drowning the reader.

use burn::store::ApplyResult;

/// The first `shown` problems joined with "; ", then "and N more" for the rest.
pub(crate) fn join_first(mut problems: Vec<String>, shown: usize) -> String {
    let more = problems.len().saturating_sub(shown);
    problems.truncate(shown);
    if more > 0 {
        problems.push(format!("and {more} more"));
    }
    problems.join("; ")
}

/// What keeps weights from fitting a model, as Burn's loading found it: tensors of another
/// shape or type, the model's tensors that got no value, and tensors it has no place for.
pub(crate) fn weight_misfits(result: &ApplyResult) -> Vec<String> {
    let mut problems: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
    problems.extend(
        result
            .missing
            .iter()
            .map(|(path, _)| format!("missing tensor '{path}'")),
    );
    problems.extend(
        result
            .unused
            .iter()
            .map(|path| format!("unexpected tensor '{path}'")),
    );
    problems
}
