//! `venice-image` command line (work in progress: see the CLI issue).

fn main() {
    eprintln!("venice-image: the command line is not implemented yet");
    std::process::exit(2);
}
