//! `nnopt tour`: the notebook from top to bottom, one part after another — what to notice, the
//! rule in play, and the command whose output shows it. This is the syllabus; the binary runs
//! each part's command as `nnopt` itself (the same code as the subcommand, so the tour shows
//! nothing the commands would not), pausing between parts on a terminal.

use anyhow::Result;
use serde::Serialize;

use crate::code::Listing;
use crate::error::ensure_usage;

/// Where a part's data comes from, for the parts that train on images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TourData {
    /// The part needs no data set.
    None,
    /// Fashion-MNIST where it is installed, else nnopt's synthetic digits (said in the heading).
    Images,
}

/// One part of the tour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// From 1, in the notebook's order.
    pub number: usize,
    pub title: &'static str,
    /// The notebook's words this part stands for.
    pub notebook: &'static str,
    /// Two or three sentences: what to look for in the output.
    pub notice: &'static str,
    /// The rule the part applies, as a formula.
    pub rule: &'static str,
    /// `nnopt`'s arguments, without the data flag `data` adds; empty: the part only reads.
    pub command: &'static [&'static str],
    pub data: TourData,
    /// The words this part uses first, each explained by `nnopt glossary TERM`.
    pub terms: &'static [&'static str],
    /// The code behind the part's numbers, whose working lines the heading shows.
    pub code: Option<Listing>,
    /// The flag its command draws its picture with (`tour --plots DIR`).
    pub picture: Option<&'static str>,
    /// For a part that trains: its command's wall time on Fashion-MNIST on two idle cores,
    /// measured (release build, `/usr/bin/time`), said before it runs.
    pub seconds: Option<f64>,
}

/// The parts, in the notebook's order: its opening claims, its three parts, then what it only
/// names (descent's traps, searching what gradients cannot learn, training on real images).
pub const PARTS: &[Part] = &[
    Part {
        number: 1,
        title: "What the notebook claims",
        notebook: "Introduction to neural networks optimization (the opening bullet points)",
        notice: "Six claims, each shown by a later part: a harder problem needs a deeper network, and deep \
                 networks are harder to optimize (part 6); gradient descent beats brute force (part 9) but can be \
                 trapped in a local minimum (part 7); where parameters are not continuous the gradient falls \
                 short (part 8); gridsearch, hyperopt, optuna and NAS search what gradients cannot learn \
                 (part 10); the computational graph stores the chain rule's results (parts 4 and 5).",
        rule: "descent: θ ← θ − lr·∇L(θ), repeated; the chain rule gives ∇L layer by layer",
        command: &[],
        data: TourData::None,
        terms: &["local minimum", "gradient", "learning rate"],
        code: None,
        picture: None,
        seconds: None,
    },
    Part {
        number: 2,
        title: "A perceptron, updated by hand",
        notebook: "Pytorch perceptron implementation",
        notice: "A large first loss that falls every epoch, as in the notebook's run: the delta rule nudges w \
                 and b after each sample, toward that sample's target. The test loss on five new samples says \
                 whether the fit carries over to data the perceptron never saw.",
        rule: "ŷ = relu(x·w + b);  w ← w + lr·(y − ŷ)·x;  b ← b + lr·(y − ŷ)   (ReLU's derivative left out)",
        command: &["perceptron"],
        data: TourData::None,
        terms: &["pre-activation", "ReLU", "MSE", "seed", "epoch"],
        code: Some(Listing::Perceptron),
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 3,
        title: "What can go wrong: a loss that rises",
        notebook: "Pytorch perceptron implementation (another seed)",
        notice: "Seed 0 draws other initial weights: every prediction starts at 0, since every pre-activation is \
                 ≤ 0. The loss then rises for 33 epochs before it falls, and the run says why: it replays those \
                 epochs with ReLU's derivative put back, and with its largest step scaled down, and names what \
                 removes the rise.",
        rule: "the same rule; relu'(z) = 0 for z ≤ 0 is what it leaves out",
        command: &["perceptron", "--seed", "0", "--every", "25"],
        data: TourData::None,
        terms: &["pre-activation", "ReLU"],
        code: None,
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 4,
        title: "Autograd: torch.autograd.grad",
        notebook: "Autograd example in pytorch",
        notice: "autograd multiplies the local derivatives along the graph: relu'(z) = 1 here, so the \
                 gradient with respect to w is x itself. A central difference, computed without autograd, \
                 agrees. Try --b -10 for a unit whose gradient is 0.",
        rule: "a = relu(z), z = w·x + b:  da/dw = relu'(z)·x,  da/db = relu'(z)",
        command: &["autograd"],
        data: TourData::None,
        terms: &["autograd", "grad_fn", "central difference"],
        code: Some(Listing::Autograd),
        picture: Some("--graph-image"),
        seconds: None,
    },
    Part {
        number: 5,
        title: "An MLP, backpropagation and one SGD step",
        notebook: "Designing dense neural networks (MLP) with pytorch: layers, gradient and optimizers",
        notice: "The graph behind the loss is PyTorch's own, node by node. fc1.bias.grad is 0 exactly for the \
                 hidden units ReLU switched off for this input. One SGD step moves the first weights by \
                 less than their four printed decimals show, yet lowers the loss on this input.",
        rule: "θ ← θ − lr·∇L(θ) for every parameter θ (optim.SGD, lr 0.05, no momentum)",
        command: &["mlp"],
        data: TourData::None,
        terms: &["backpropagation", "grad_fn", "SGD"],
        code: Some(Listing::Mlp),
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 6,
        title: "Deep networks are harder to optimize",
        notebook: "The complexity of the problem indicates how deep a neural network has to be to succeed. But with deep neural networks comes optimization problems.",
        notice: "The notebook's MLP and a deep, narrow one (eight hidden layers of 16) train with the same plain SGD \
                 on the same images. The deep one barely learns: its loss stays near ln 10, the loss of guessing. \
                 Each layer's gradient size says why — it shrinks on the way back to the first layers — and the \
                 remedies, each alone, say what helps: weights scaled for ReLU (He), momentum, fewer layers.",
        rule: "the chain rule multiplies the gradient by every layer's weights and ReLU on its way back: \
               ∂L/∂W₁ = (∂L/∂a_L)·W_L·…·W₂·(ReLU's 0s and 1s)·x",
        command: &["depth"],
        data: TourData::Images,
        terms: &["vanishing gradient", "He initialisation", "dead unit", "chance"],
        code: None,
        picture: Some("--plot"),
        seconds: Some(3.1),
    },
    Part {
        number: 7,
        title: "Gradient descent trapped in a local minimum, and momentum escaping it",
        notebook: "The original algorithm is susceptible to getting locked in a local minima",
        notice: "Every optimizer starts at -6.5 on the same surface. Plain gradient descent stops in the \
                 nearest valley; momentum's velocity carries it over the ridge to the global minimum. \
                 Each verdict says which minimum was reached, on the surface's domain.",
        rule: "gd: x ← x − lr·g;  momentum: v ← μ·v + g, x ← x − lr·v",
        command: &["descent"],
        data: TourData::None,
        terms: &["momentum", "Nesterov momentum", "Adam", "RMSprop"],
        code: None,
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 8,
        title: "Where the gradient falls short",
        notebook: "In a scenario that the parameters are not continuous and well behaved, the gradient descent method may fall short",
        notice: "f = ⌊x²⌋ is flat almost everywhere: its gradient is 0, so gradient descent never moves. \
                 Random search needs no gradient and finds the minimum.",
        rule: "gd: x ← x − lr·0 = x;  random search: keep the best of uniform draws",
        command: &["descent", "--surface", "step", "--optimizers", "gd,random-search"],
        data: TourData::None,
        terms: &["gradient"],
        code: None,
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 9,
        title: "Brute force against dimension",
        notebook: "Gradient descent: a way to avoid brute forcing the way through optimization, which is not viable",
        notice: "A grid, random search and gradient descent look for the bottom of the same bowl in 1, 2, 10 and \
                 100 dimensions. The searches' counts are run up to a million evaluations and computed past it: \
                 they multiply with every dimension, while gradient descent's barely grow.",
        rule: "grid: k points per dimension, kᵈ in all;  random search: about 1/p draws;  gradient descent: x ← x − lr·∇f",
        command: &["brute-force"],
        data: TourData::None,
        terms: &["grid search", "random search", "curse of dimensionality"],
        code: None,
        picture: Some("--plot"),
        seconds: None,
    },
    Part {
        number: 10,
        title: "Searching what gradients cannot learn: TPE, and the smallest architecture search",
        notebook: "Optimization libraries/methods: gridsearch, hyperopt, optuna, NAS",
        notice: "Learning rate and architecture are not learned by the gradient; a search trains a network \
                 per setting and keeps the best on a validation split. Searching --hidden over widths and \
                 depths is the smallest neural architecture search: real NAS also searches layer types and \
                 connections, and shares weights or predicts scores to avoid training every candidate.",
        rule: "TPE (optuna's default, hyperopt's algorithm): propose x maximising l(x)/g(x), the density of \
               good trials over that of the rest",
        command: &[
            "sweep", "--strategy", "tpe", "--trials", "6", "--startup-trials", "3", "--epochs", "1", "--hidden",
            "16,64,32x32", "--lr", "0.01..0.5:log",
        ],
        data: TourData::Images,
        terms: &["validation split", "TPE", "successive halving"],
        code: None,
        picture: Some("--plot"),
        seconds: Some(1.6),
    },
    Part {
        number: 11,
        title: "The notebook's optimizer on real images",
        notebook: "optimizer = optim.SGD(net.parameters(), lr=0.05)",
        notice: "The same MLP and the notebook's plain SGD, now on a full data set of images for three \
                 epochs (the data line says which): the loss falls epoch by epoch and the test accuracy says \
                 how much was learned. Its gradients are part 5's backpropagation written out \
                 (per layer ∂W = gᵀ·a, ∂b = Σ g, and g·W back through the ReLU): the \
                 numbers loss.backward() gives, bit for bit on the CPU. nnopt's default recipe (Nesterov momentum, weight decay, \
                 cosine schedule) is `nnopt train` without the four flags.",
        rule: "θ ← θ − lr·∇L(θ) per minibatch of 128, lr 0.05 constant",
        command: &["train", "--epochs", "3", "--momentum", "0", "--weight-decay", "0", "--schedule", "constant", "--lr", "0.05"],
        data: TourData::Images,
        terms: &["cross-entropy", "logits", "batch", "normalization", "weight decay", "cosine schedule", "chance"],
        code: Some(Listing::Train),
        picture: Some("--plot"),
        seconds: Some(0.9),
    },
];

/// The picture flag and file `tour --plots DIR` adds to a part's command: `DIR/partNN-NAME.png`.
pub fn picture_args(part: &Part, dir: &std::path::Path) -> Option<(&'static str, std::path::PathBuf)> {
    let flag = part.picture?;
    let name = part.command.first()?;
    Some((flag, dir.join(format!("part{:02}-{name}.png", part.number))))
}

/// The parts from `start` (1-based) on.
pub fn parts_from(start: usize) -> Result<&'static [Part]> {
    ensure_usage((1..=PARTS.len()).contains(&start), || {
        format!("--part must be between 1 and {}, got {start}", PARTS.len())
    })?;
    Ok(&PARTS[start - 1..])
}

/// A part's heading and words, as printed above its output.
pub fn introduce(part: &Part, data_note: Option<&str>) -> String {
    let mut text = format!(
        "━━ Part {} of {}: {} ━━\nnotebook: {}\n\n{}\n\nrule: {}\n",
        part.number,
        PARTS.len(),
        part.title,
        part.notebook,
        crate::text::wrap(part.notice, crate::text::WIDTH),
        part.rule
    );
    if !part.terms.is_empty() {
        text.push_str(&format!("words: {} (nnopt glossary TERM explains each)\n", part.terms.join(", ")));
    }
    if let Some(listing) = part.code {
        let (pytorch, _) = listing.excerpt();
        text.push_str(
            "the code (PyTorch; --code on the command shows it whole, beside the same step in Rust's tch):\n",
        );
        for line in pytorch.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    if let Some(note) = data_note {
        text.push_str(&format!("data: {note}\n"));
    }
    if let Some(seconds) = part.seconds {
        text.push_str(&format!(
            "time: about {seconds} s on Fashion-MNIST on two idle cores (a busy machine takes several times longer)\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word a part points to is in the glossary, and no part talks implementation: no
    /// file paths, no kernel names (those are docs/internals.md's).
    #[test]
    fn the_words_are_explained_and_the_text_is_the_learner_s() {
        for part in PARTS {
            for term in part.terms {
                assert!(crate::glossary::lookup(Some(term)).is_ok(), "part {}: {term}", part.number);
            }
            let text = introduce(part, None);
            for talk in ["src/", ".rs", "addmm(", "libtorch", "kernel", "examples/"] {
                assert!(!text.contains(talk), "part {} says {talk:?}: {text}", part.number);
            }
        }
    }

    #[test]
    fn parts_are_numbered_in_order_and_follow_the_notebook() {
        for (i, part) in PARTS.iter().enumerate() {
            assert_eq!(part.number, i + 1);
        }
        // The notebook's own parts, by its headings, in its order.
        let headings = [
            "Pytorch perceptron implementation",
            "Autograd example in pytorch",
            "Designing dense neural networks",
        ];
        let positions: Vec<usize> = headings
            .iter()
            .map(|heading| PARTS.iter().position(|p| p.notebook.starts_with(heading)).expect("a tour part"))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    /// The notebook's own parts show the lines of code that do their step.
    #[test]
    fn the_notebook_s_parts_show_their_code() {
        for part in PARTS.iter().filter(|p| p.code.is_some()) {
            let text = introduce(part, None);
            let (pytorch, _) = part.code.unwrap().excerpt();
            assert!(text.contains(&pytorch.replace('\n', "\n    ")), "part {}:\n{text}", part.number);
        }
        let shown: Vec<&str> = PARTS.iter().filter(|p| p.code.is_some()).map(|p| p.title).collect();
        assert_eq!(shown.len(), 4, "perceptron, autograd, MLP and training: {shown:?}");
    }

    /// Every part that runs a command draws a picture, each to its own file.
    #[test]
    fn every_part_that_runs_draws_its_own_picture() {
        let dir = std::path::Path::new("pictures");
        let files: Vec<_> = PARTS.iter().filter_map(|p| picture_args(p, dir)).map(|(_, f)| f).collect();
        let running = PARTS.iter().filter(|p| !p.command.is_empty()).count();
        assert_eq!(files.len(), running);
        let unique: std::collections::BTreeSet<_> = files.iter().collect();
        assert_eq!(unique.len(), files.len(), "{files:?}");
        assert_eq!(picture_args(&PARTS[1], dir).unwrap(), ("--plot", dir.join("part02-perceptron.png")));
    }

    #[test]
    fn a_start_outside_the_parts_is_refused_naming_the_flag() {
        assert_eq!(parts_from(1).unwrap().len(), PARTS.len());
        assert_eq!(parts_from(PARTS.len()).unwrap().len(), 1);
        for bad in [0, PARTS.len() + 1] {
            let err = parts_from(bad).unwrap_err().to_string();
            assert!(err.contains("--part must be between 1 and"), "{err}");
        }
    }

    #[test]
    fn notices_wrap_within_the_width() {
        for line in crate::text::wrap(PARTS[9].notice, crate::text::WIDTH).lines() {
            assert!(line.chars().count() <= 96, "{line}");
        }
    }

    #[test]
    fn the_heading_names_the_part_its_rule_and_the_data() {
        let text = introduce(&PARTS[1], Some("synthetic digits"));
        assert!(text.starts_with("━━ Part 2 of 11: A perceptron, updated by hand ━━"), "{text}");
        assert!(text.contains("rule: ŷ = relu(x·w + b)"), "{text}");
        assert!(text.ends_with("data: synthetic digits\n"), "{text}");
    }
}
