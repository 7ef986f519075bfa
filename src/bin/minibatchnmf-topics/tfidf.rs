//! TF-IDF as scikit-learn's `TfidfVectorizer` computes it with the settings
//! of its topic-extraction example: lowercase, tokens `(?u)\b\w\w+\b`,
//! English stop words, `max_df`, `min_df`, `max_features`, raw counts
//! (no sublinear tf), smooth idf, rows l2-normalised, columns in
//! alphabetical order.

use crate::corpus::CsrMatrix;
use std::collections::HashMap;

/// scikit-learn's `ENGLISH_STOP_WORDS` (318 words, sorted).
pub const ENGLISH_STOP_WORDS: [&str; 318] = [
    "a",
    "about",
    "above",
    "across",
    "after",
    "afterwards",
    "again",
    "against",
    "all",
    "almost",
    "alone",
    "along",
    "already",
    "also",
    "although",
    "always",
    "am",
    "among",
    "amongst",
    "amoungst",
    "amount",
    "an",
    "and",
    "another",
    "any",
    "anyhow",
    "anyone",
    "anything",
    "anyway",
    "anywhere",
    "are",
    "around",
    "as",
    "at",
    "back",
    "be",
    "became",
    "because",
    "become",
    "becomes",
    "becoming",
    "been",
    "before",
    "beforehand",
    "behind",
    "being",
    "below",
    "beside",
    "besides",
    "between",
    "beyond",
    "bill",
    "both",
    "bottom",
    "but",
    "by",
    "call",
    "can",
    "cannot",
    "cant",
    "co",
    "con",
    "could",
    "couldnt",
    "cry",
    "de",
    "describe",
    "detail",
    "do",
    "done",
    "down",
    "due",
    "during",
    "each",
    "eg",
    "eight",
    "either",
    "eleven",
    "else",
    "elsewhere",
    "empty",
    "enough",
    "etc",
    "even",
    "ever",
    "every",
    "everyone",
    "everything",
    "everywhere",
    "except",
    "few",
    "fifteen",
    "fifty",
    "fill",
    "find",
    "fire",
    "first",
    "five",
    "for",
    "former",
    "formerly",
    "forty",
    "found",
    "four",
    "from",
    "front",
    "full",
    "further",
    "get",
    "give",
    "go",
    "had",
    "has",
    "hasnt",
    "have",
    "he",
    "hence",
    "her",
    "here",
    "hereafter",
    "hereby",
    "herein",
    "hereupon",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "hundred",
    "i",
    "ie",
    "if",
    "in",
    "inc",
    "indeed",
    "interest",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "keep",
    "last",
    "latter",
    "latterly",
    "least",
    "less",
    "ltd",
    "made",
    "many",
    "may",
    "me",
    "meanwhile",
    "might",
    "mill",
    "mine",
    "more",
    "moreover",
    "most",
    "mostly",
    "move",
    "much",
    "must",
    "my",
    "myself",
    "name",
    "namely",
    "neither",
    "never",
    "nevertheless",
    "next",
    "nine",
    "no",
    "nobody",
    "none",
    "noone",
    "nor",
    "not",
    "nothing",
    "now",
    "nowhere",
    "of",
    "off",
    "often",
    "on",
    "once",
    "one",
    "only",
    "onto",
    "or",
    "other",
    "others",
    "otherwise",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "part",
    "per",
    "perhaps",
    "please",
    "put",
    "rather",
    "re",
    "same",
    "see",
    "seem",
    "seemed",
    "seeming",
    "seems",
    "serious",
    "several",
    "she",
    "should",
    "show",
    "side",
    "since",
    "sincere",
    "six",
    "sixty",
    "so",
    "some",
    "somehow",
    "someone",
    "something",
    "sometime",
    "sometimes",
    "somewhere",
    "still",
    "such",
    "system",
    "take",
    "ten",
    "than",
    "that",
    "the",
    "their",
    "them",
    "themselves",
    "then",
    "thence",
    "there",
    "thereafter",
    "thereby",
    "therefore",
    "therein",
    "thereupon",
    "these",
    "they",
    "thick",
    "thin",
    "third",
    "this",
    "those",
    "though",
    "three",
    "through",
    "throughout",
    "thru",
    "thus",
    "to",
    "together",
    "too",
    "top",
    "toward",
    "towards",
    "twelve",
    "twenty",
    "two",
    "un",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "well",
    "were",
    "what",
    "whatever",
    "when",
    "whence",
    "whenever",
    "where",
    "whereafter",
    "whereas",
    "whereby",
    "wherein",
    "whereupon",
    "wherever",
    "whether",
    "which",
    "while",
    "whither",
    "who",
    "whoever",
    "whole",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Whether `w` (lowercase) is one of scikit-learn's English stop words.
pub fn is_stop_word(w: &str) -> bool {
    ENGLISH_STOP_WORDS.binary_search(&w).is_ok()
}

/// Python's `\w` for str patterns: letters, digits, numerics and `_`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lowercase `doc` and call `f` on each maximal run of 2 or more word
/// characters (what `(?u)\b\w\w+\b` finds).
pub fn for_each_token(doc: &str, mut f: impl FnMut(&str)) {
    let lower = doc.to_lowercase();
    let mut start = None;
    let mut chars = 0;
    for (i, c) in lower.char_indices() {
        if is_word_char(c) {
            if start.is_none() {
                start = Some(i);
                chars = 0;
            }
            chars += 1;
        } else if let Some(s) = start.take() {
            if chars >= 2 {
                f(&lower[s..i]);
            }
        }
    }
    if let Some(s) = start {
        if chars >= 2 {
            f(&lower[s..]);
        }
    }
}

/// Vectoriser settings (scikit-learn's names).
#[derive(Debug, Clone)]
pub struct Options {
    /// Drop terms in more than this share of the documents.
    pub max_df: f64,
    /// Drop terms in fewer than this many documents.
    pub min_df: usize,
    /// Keep at most this many terms, the most frequent over the corpus.
    pub max_features: Option<usize>,
}

/// The TF-IDF matrix (documents × terms) and its vocabulary.
pub struct Tfidf {
    pub matrix: CsrMatrix,
    pub vocab: Vec<String>,
}

/// Vectorise `docs`.
pub fn tfidf(docs: &[String], opts: &Options) -> Result<Tfidf, String> {
    let n_docs = docs.len();
    // Count terms per document, ids in order of first appearance.
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut terms: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<(usize, u32)>> = Vec::with_capacity(n_docs);
    let mut counts: HashMap<usize, u32> = HashMap::new();
    for doc in docs {
        counts.clear();
        for_each_token(doc, |tok| {
            if is_stop_word(tok) {
                return;
            }
            let id = match ids.get(tok) {
                Some(&id) => id,
                None => {
                    let id = terms.len();
                    ids.insert(tok.to_string(), id);
                    terms.push(tok.to_string());
                    id
                }
            };
            *counts.entry(id).or_insert(0) += 1;
        });
        rows.push(counts.iter().map(|(&id, &c)| (id, c)).collect());
    }
    let n_terms = terms.len();
    let mut df = vec![0usize; n_terms];
    let mut tf = vec![0u64; n_terms];
    for row in &rows {
        for &(id, c) in row {
            df[id] += 1;
            tf[id] += c as u64;
        }
    }
    // _limit_features: document-frequency bounds, then the max_features
    // most frequent terms (ties: alphabetical order).
    let max_doc_count = opts.max_df * n_docs as f64;
    let mut kept: Vec<usize> = (0..n_terms)
        .filter(|&t| (df[t] as f64) <= max_doc_count && df[t] >= opts.min_df)
        .collect();
    if kept.is_empty() {
        return Err("after pruning, no terms remain; try a lower min_df or a higher max_df".into());
    }
    if let Some(limit) = opts.max_features {
        if kept.len() > limit {
            kept.sort_by(|&a, &b| tf[b].cmp(&tf[a]).then_with(|| terms[a].cmp(&terms[b])));
            kept.truncate(limit);
        }
    }
    kept.sort_by(|&a, &b| terms[a].cmp(&terms[b]));
    let mut column = vec![usize::MAX; n_terms];
    for (col, &t) in kept.iter().enumerate() {
        column[t] = col;
    }
    // Smooth idf: ln((1 + n) / (1 + df)) + 1.
    let idf: Vec<f64> = kept
        .iter()
        .map(|&t| ((1.0 + n_docs as f64) / (1.0 + df[t] as f64)).ln() + 1.0)
        .collect();
    let mut m = CsrMatrix {
        n_rows: n_docs,
        n_cols: kept.len(),
        indptr: Vec::with_capacity(n_docs + 1),
        indices: Vec::new(),
        data: Vec::new(),
    };
    m.indptr.push(0);
    let mut row_buf: Vec<(usize, f64)> = Vec::new();
    for row in &rows {
        row_buf.clear();
        row_buf.extend(
            row.iter()
                .filter(|&&(t, _)| column[t] != usize::MAX)
                .map(|&(t, c)| (column[t], c as f64 * idf[column[t]])),
        );
        row_buf.sort_unstable_by_key(|&(c, _)| c);
        let norm = row_buf.iter().map(|&(_, v)| v * v).sum::<f64>().sqrt();
        for &(c, v) in &row_buf {
            m.indices.push(c);
            m.data.push(v / norm);
        }
        m.indptr.push(m.indices.len());
    }
    let vocab = kept
        .into_iter()
        .map(|t| std::mem::take(&mut terms[t]))
        .collect();
    Ok(Tfidf { matrix: m, vocab })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        for_each_token(s, |t| v.push(t.to_string()));
        v
    }

    #[test]
    fn stop_words_sorted() {
        assert!(ENGLISH_STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && is_stop_word("system") && !is_stop_word("computer"));
    }

    #[test]
    fn tokenizer_like_sklearn() {
        assert_eq!(
            tokens("The C++ {compiler}, a_b x 42 Ünïcode"),
            ["the", "compiler", "a_b", "42", "ünïcode"]
        );
        assert_eq!(tokens("a"), Vec::<String>::new());
        assert_eq!(tokens("end"), ["end"]);
    }

    #[test]
    fn tfidf_values() {
        // sklearn: TfidfVectorizer(min_df=1, max_df=1.0).fit_transform(docs)
        let docs: Vec<String> = ["apple banana apple", "banana cherry", "cherry the"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = tfidf(
            &docs,
            &Options {
                max_df: 1.0,
                min_df: 1,
                max_features: None,
            },
        )
        .unwrap();
        assert_eq!(t.vocab, ["apple", "banana", "cherry"]);
        assert_eq!(t.matrix.indptr, [0, 2, 4, 5]);
        assert_eq!(t.matrix.indices, [0, 1, 1, 2, 2]);
        let idf_rare = (4.0f64 / 2.0).ln() + 1.0; // df = 1
        let idf_two = (4.0f64 / 3.0).ln() + 1.0; // df = 2
        let (a, b) = (2.0 * idf_rare, idf_two);
        let n = (a * a + b * b).sqrt();
        assert!((t.matrix.data[0] - a / n).abs() < 1e-15);
        assert!((t.matrix.data[1] - b / n).abs() < 1e-15);
        assert!((t.matrix.data[2] - 0.5f64.sqrt()).abs() < 1e-15);
        assert!((t.matrix.data[4] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn pruning() {
        let docs: Vec<String> = ["aa bb cc", "aa bb", "aa dd dd dd", "aa ee"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // aa in every document (> max_df), cc and ee only once (< min_df).
        let o = Options {
            max_df: 0.95,
            min_df: 2,
            max_features: None,
        };
        assert_eq!(tfidf(&docs, &o).unwrap().vocab, ["bb"]);
        let o = Options {
            max_df: 1.0,
            min_df: 1,
            max_features: Some(2),
        };
        // tf: aa 4, dd 3, then bb 2.
        assert_eq!(tfidf(&docs, &o).unwrap().vocab, ["aa", "dd"]);
        let o = Options {
            max_df: 0.1,
            min_df: 1,
            max_features: None,
        };
        assert!(tfidf(&docs, &o).is_err());
    }
}
