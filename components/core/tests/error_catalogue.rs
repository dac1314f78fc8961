//! Every error code the code can produce has a message in every language,
//! and every message belongs to a code that exists.
//!
//! The codes are read from the sources, not from a list someone keeps: the
//! test parses every `.rs` file under `components/*/src` and follows each
//! place a code enters an [`Error`](echopilot_core::Error) (a constructor's
//! code argument, an `Error { code, .. }` literal, an `err.code = ...`
//! assignment). A string literal there is a code. A parameter there makes
//! its function (or named closure, or `macro_rules!` macro) a code-taking
//! function whose own call sites are followed the same way, to a fixed
//! point. Anything else in a code position (a variable, a call) fails the
//! test, naming the file and expression: a code can never be missed
//! silently, only refused loudly.

mod code_scan {
    use proc_macro2::{Delimiter, TokenStream, TokenTree};
    use quote::ToTokens;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};
    use syn::visit::{self, Visit};
    use syn::{Expr, FnArg, Pat};

    /// Something that can be called with a code: `Type::function`, a free
    /// function or named closure (with the file defining it), a method, or
    /// a `macro_rules!` macro.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Callee {
        Assoc(String, String),
        Free(String, String),
        Method(String),
        Macro(String),
    }

    /// How a call names what it calls.
    enum CallPath {
        /// `Type::f` (or `Self::f`).
        Assoc(String, String),
        /// `f`, or `module::f`.
        Free(Option<String>, String),
        /// `.f(`.
        Method(String),
    }

    /// Where a code enters: an argument position, or (macros) a
    /// metavariable's position among the matcher's comma-separated parts.
    pub type Takers = BTreeMap<Callee, BTreeSet<usize>>;

    /// The outcome of a scan.
    #[derive(Default)]
    pub struct Scan {
        pub codes: BTreeMap<String, BTreeSet<String>>,
        pub failures: Vec<String>,
        pub found: Takers,
    }

    /// One enclosing function or closure: what calling it is, and its
    /// parameters.
    struct Frame {
        callee: Option<Callee>,
        params: Vec<String>,
    }

    struct Visitor<'a> {
        file: String,
        takers: &'a Takers,
        macros: &'a BTreeSet<String>,
        defined: &'a BTreeMap<String, BTreeSet<String>>,
        frames: Vec<Frame>,
        impl_types: Vec<String>,
        pending_closure_name: Option<String>,
        scan: &'a mut Scan,
    }

    fn pat_name(p: &Pat) -> Option<String> {
        match p {
            Pat::Ident(i) => Some(i.ident.to_string()),
            Pat::Type(t) => pat_name(&t.pat),
            _ => None,
        }
    }

    fn type_name(ty: &syn::Type) -> Option<String> {
        match ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
    }

    impl Visitor<'_> {
        fn record(&mut self, code: String) {
            self.scan
                .codes
                .entry(code)
                .or_default()
                .insert(self.file.clone());
        }

        fn fail(&mut self, what: String) {
            self.scan.failures.push(format!("{}: {what}", self.file));
        }

        /// How a path names what it calls.
        fn call_path(&self, segs: &[String]) -> CallPath {
            let name = segs.last().cloned().unwrap_or_default();
            match segs.len() {
                0 | 1 => CallPath::Free(None, name),
                n => {
                    let owner = &segs[n - 2];
                    let owner = if owner == "Self" {
                        self.impl_types.last().cloned().unwrap_or_default()
                    } else {
                        owner.clone()
                    };
                    if owner.starts_with(|c: char| c.is_ascii_uppercase()) {
                        CallPath::Assoc(owner, name)
                    } else {
                        CallPath::Free(Some(owner), name)
                    }
                }
            }
        }

        /// The code argument positions of what `call` names. A bare `f` is
        /// this file's `f` when the file defines one; otherwise (imported,
        /// or `module::f`) every code taker named `f` whose file matches the
        /// module, or every one named `f` when none does: a wrong guess
        /// checks more, never less.
        fn positions(&self, call: &CallPath) -> Vec<(Callee, BTreeSet<usize>)> {
            let of = |c: Callee| {
                self.takers
                    .get(&c)
                    .map(|p| vec![(c, p.clone())])
                    .unwrap_or_default()
            };
            match call {
                CallPath::Assoc(t, n) => of(Callee::Assoc(t.clone(), n.clone())),
                CallPath::Method(n) => of(Callee::Method(n.clone())),
                CallPath::Free(module, n) => {
                    let local = self
                        .defined
                        .get(&self.file)
                        .is_some_and(|names| names.contains(n));
                    if module.is_none() && local {
                        return of(Callee::Free(self.file.clone(), n.clone()));
                    }
                    let named: Vec<(Callee, BTreeSet<usize>)> = self
                        .takers
                        .iter()
                        .filter(|(c, _)| matches!(c, Callee::Free(_, m) if m == n))
                        .map(|(c, p)| (c.clone(), p.clone()))
                        .collect();
                    let in_module: Vec<(Callee, BTreeSet<usize>)> = named
                        .iter()
                        .filter(|(c, _)| match (c, module) {
                            (Callee::Free(f, _), Some(m)) => {
                                f.ends_with(&format!("/{m}.rs"))
                                    || f.ends_with(&format!("/{m}/mod.rs"))
                            }
                            _ => false,
                        })
                        .cloned()
                        .collect();
                    // `module::f` where that module defines an `f` that
                    // takes no code (`config::invalid`) is that function,
                    // not a same-named code taker elsewhere.
                    let module_defines_it = module.as_ref().is_some_and(|m| {
                        self.defined.iter().any(|(f, names)| {
                            (f.ends_with(&format!("/{m}.rs"))
                                || f.ends_with(&format!("/{m}/mod.rs")))
                                && names.contains(n)
                        })
                    });
                    if in_module.is_empty() && !module_defines_it {
                        named
                    } else {
                        in_module
                    }
                }
            }
        }

        /// Check the code arguments of a call of `call` with `args`.
        fn call(&mut self, call: &CallPath, args: &[Expr]) {
            for (callee, positions) in self.positions(call) {
                for i in positions {
                    match args.get(i) {
                        Some(arg) => self.code_at(arg),
                        None => self.fail(format!("{callee:?} called without its code")),
                    }
                }
            }
        }

        /// A code position holds `expr`: record its literal(s), or make the
        /// enclosing function a code taker, or fail.
        fn code_at(&mut self, expr: &Expr) {
            match expr {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => self.record(s.value()),
                Expr::Paren(p) => self.code_at(&p.expr),
                Expr::Group(g) => self.code_at(&g.expr),
                Expr::Block(b) => self.code_in_block(&b.block),
                Expr::If(i) => {
                    self.code_in_block(&i.then_branch);
                    match &i.else_branch {
                        Some((_, e)) => self.code_at(e),
                        None => self.fail("an `if` without `else` in a code position".into()),
                    }
                }
                Expr::Match(m) => {
                    for arm in &m.arms {
                        self.code_at(&arm.body);
                    }
                }
                Expr::Path(p) if p.path.segments.len() == 1 => {
                    let name = p.path.segments[0].ident.to_string();
                    let frame = self
                        .frames
                        .iter()
                        .rev()
                        .find_map(|f| f.params.iter().position(|n| *n == name).map(|i| (f, i)));
                    match frame {
                        Some((
                            Frame {
                                callee: Some(c), ..
                            },
                            i,
                        )) => {
                            let c = c.clone();
                            self.scan.found.entry(c).or_default().insert(i);
                        }
                        _ => self.fail(format!(
                            "the code `{name}` is neither a string literal nor a parameter of a named function"
                        )),
                    }
                }
                other => self.fail(format!(
                    "cannot tell which code `{}` is: use a string literal",
                    other.to_token_stream()
                )),
            }
        }

        fn code_in_block(&mut self, block: &syn::Block) {
            match block.stmts.last() {
                Some(syn::Stmt::Expr(e, None)) => self.code_at(e),
                _ => self.fail("a block without a final expression in a code position".into()),
            }
        }

        /// Calls of code takers inside a macro's arguments (which syn does
        /// not parse): found in the tokens, their code argument parsed as
        /// an expression.
        fn tokens(&mut self, tokens: TokenStream) {
            let trees: Vec<TokenTree> = tokens.into_iter().collect();
            for (i, tree) in trees.iter().enumerate() {
                let TokenTree::Group(g) = tree else { continue };
                if g.delimiter() == Delimiter::Parenthesis {
                    if let Some(call) = path_before(&trees[..i], self) {
                        if !self.positions(&call).is_empty() {
                            let mut args = Vec::new();
                            for arg in split_commas(g.stream()) {
                                match syn::parse2::<Expr>(arg.clone()) {
                                    Ok(e) => args.push(e),
                                    Err(_) => {
                                        self.fail(format!("cannot read the argument `{arg}`"));
                                        args.push(syn::parse_quote!(()));
                                    }
                                }
                            }
                            self.call(&call, &args);
                        }
                    }
                }
                self.tokens(g.stream());
            }
        }
    }

    /// The call path ending just before a `(` group: `Error :: new`.
    fn path_before(trees: &[TokenTree], v: &Visitor) -> Option<CallPath> {
        let mut segs: Vec<String> = Vec::new();
        let mut i = trees.len();
        while i > 0 {
            match &trees[i - 1] {
                TokenTree::Ident(id) => {
                    segs.push(id.to_string());
                    i -= 1;
                    // `::` is two `:` puncts.
                    let colons = i >= 2
                        && matches!(&trees[i - 1], TokenTree::Punct(p) if p.as_char() == ':')
                        && matches!(&trees[i - 2], TokenTree::Punct(p) if p.as_char() == ':');
                    if colons {
                        i -= 2;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        if segs.is_empty() {
            return None;
        }
        // A method call: `.name(`.
        if i > 0 && segs.len() == 1 {
            if let TokenTree::Punct(p) = &trees[i - 1] {
                if p.as_char() == '.' {
                    return Some(CallPath::Method(segs[0].clone()));
                }
            }
        }
        segs.reverse();
        Some(v.call_path(&segs))
    }

    /// Top-level comma-separated parts of a token stream.
    pub fn split_commas(tokens: TokenStream) -> Vec<TokenStream> {
        let mut parts = vec![TokenStream::new()];
        for t in tokens {
            match &t {
                TokenTree::Punct(p) if p.as_char() == ',' => parts.push(TokenStream::new()),
                _ => parts.last_mut().unwrap().extend([t]),
            }
        }
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        parts
    }

    /// The `$name`s of each comma-separated part of a matcher.
    fn metavariables(part: &TokenStream) -> Vec<String> {
        let trees: Vec<TokenTree> = part.clone().into_iter().collect();
        let mut names = Vec::new();
        for (i, t) in trees.iter().enumerate() {
            if let (TokenTree::Punct(p), Some(TokenTree::Ident(id))) = (t, trees.get(i + 1)) {
                if p.as_char() == '$' {
                    names.push(id.to_string());
                }
            }
        }
        names
    }

    /// A part of a macro invocation without its leading attributes
    /// (`/// docs` arrive as `#[doc = ...]`).
    fn strip_attributes(part: &TokenStream) -> TokenStream {
        let trees: Vec<TokenTree> = part.clone().into_iter().collect();
        let mut i = 0;
        while i + 1 < trees.len()
            && matches!(&trees[i], TokenTree::Punct(p) if p.as_char() == '#')
            && matches!(&trees[i + 1], TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket)
        {
            i += 2;
        }
        trees[i..].iter().cloned().collect()
    }

    impl<'ast> Visit<'ast> for Visitor<'_> {
        fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
            self.impl_types
                .push(type_name(&i.self_ty).unwrap_or_default());
            visit::visit_item_impl(self, i);
            self.impl_types.pop();
        }

        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            if is_test_only(&f.attrs) {
                return;
            }
            let params = f.sig.inputs.iter().filter_map(|a| match a {
                FnArg::Typed(t) => Some(pat_name(&t.pat).unwrap_or_default()),
                FnArg::Receiver(_) => None,
            });
            self.frames.push(Frame {
                callee: Some(Callee::Free(self.file.clone(), f.sig.ident.to_string())),
                params: params.collect(),
            });
            visit::visit_item_fn(self, f);
            self.frames.pop();
        }

        fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
            let name = f.sig.ident.to_string();
            let method = matches!(f.sig.inputs.first(), Some(FnArg::Receiver(_)));
            let callee = if method {
                Callee::Method(name)
            } else {
                Callee::Assoc(self.impl_types.last().cloned().unwrap_or_default(), name)
            };
            let params = f.sig.inputs.iter().filter_map(|a| match a {
                FnArg::Typed(t) => Some(pat_name(&t.pat).unwrap_or_default()),
                FnArg::Receiver(_) => None,
            });
            self.frames.push(Frame {
                callee: Some(callee),
                params: params.collect(),
            });
            visit::visit_impl_item_fn(self, f);
            self.frames.pop();
        }

        fn visit_local(&mut self, l: &'ast syn::Local) {
            // `let name = |code, ...| ...;` names the closure.
            if let Some(init) = &l.init {
                if matches!(&*init.expr, Expr::Closure(_)) {
                    self.pending_closure_name = pat_name(&l.pat);
                }
            }
            visit::visit_local(self, l);
        }

        fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
            let name = self.pending_closure_name.take();
            self.frames.push(Frame {
                callee: name.map(|n| Callee::Free(self.file.clone(), n)),
                params: c
                    .inputs
                    .iter()
                    .map(|p| pat_name(p).unwrap_or_default())
                    .collect(),
            });
            visit::visit_expr_closure(self, c);
            self.frames.pop();
        }

        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Expr::Path(p) = &*c.func {
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let call = self.call_path(&segs);
                let args: Vec<Expr> = c.args.iter().cloned().collect();
                self.call(&call, &args);
            }
            visit::visit_expr_call(self, c);
        }

        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            let args: Vec<Expr> = m.args.iter().cloned().collect();
            self.call(&CallPath::Method(m.method.to_string()), &args);
            visit::visit_expr_method_call(self, m);
        }

        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            if !is_test_only(&m.attrs) {
                visit::visit_item_mod(self, m);
            }
        }

        fn visit_expr_struct(&mut self, s: &'ast syn::ExprStruct) {
            if s.path
                .segments
                .last()
                .is_some_and(|seg| seg.ident == "Error")
            {
                for field in &s.fields {
                    if matches!(&field.member, syn::Member::Named(n) if n == "code") {
                        self.code_at(&field.expr);
                    }
                }
            }
            visit::visit_expr_struct(self, s);
        }

        fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
            if let Expr::Field(f) = &*a.left {
                if matches!(&f.member, syn::Member::Named(n) if n == "code") {
                    self.code_at(&a.right);
                }
            }
            visit::visit_expr_assign(self, a);
        }

        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            let name = m
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if name == "macro_rules" {
                return; // definitions: see `macro_takers`
            }
            let callee = Callee::Macro(name.clone());
            if let (Some(positions), true) = (
                self.takers.get(&callee).cloned(),
                self.macros.contains(&name),
            ) {
                let parts = split_commas(m.tokens.clone());
                for p in positions {
                    match parts.get(p) {
                        Some(part) => match syn::parse2::<Expr>(strip_attributes(part)) {
                            Ok(e) => self.code_at(&e),
                            Err(_) => {
                                self.fail(format!("cannot read the code `{part}` of {name}!"))
                            }
                        },
                        None => self.fail(format!("{name}! invoked without its code")),
                    }
                }
            }
            self.tokens(m.tokens.clone());
        }
    }

    /// `#[cfg(test)]` or `#[test]`: test code makes no codes.
    fn is_test_only(attrs: &[syn::Attribute]) -> bool {
        attrs.iter().any(|a| {
            a.path().is_ident("test")
                || (a.path().is_ident("cfg")
                    && a.meta.to_token_stream().to_string() == "cfg (test)")
        })
    }

    /// The free functions and named closures each file defines.
    fn definitions(files: &[(String, syn::File)]) -> BTreeMap<String, BTreeSet<String>> {
        struct Names<'a>(&'a mut BTreeSet<String>);
        impl<'ast> Visit<'ast> for Names<'_> {
            fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
                self.0.insert(f.sig.ident.to_string());
                visit::visit_item_fn(self, f);
            }
            fn visit_local(&mut self, l: &'ast syn::Local) {
                if let (Some(init), Some(name)) = (&l.init, pat_name(&l.pat)) {
                    if matches!(&*init.expr, Expr::Closure(_)) {
                        self.0.insert(name);
                    }
                }
                visit::visit_local(self, l);
            }
        }
        files
            .iter()
            .map(|(rel, f)| {
                let mut names = BTreeSet::new();
                Names(&mut names).visit_file(f);
                (rel.clone(), names)
            })
            .collect()
    }

    /// Every `.rs` file under `components/*/src`.
    pub fn sources(components: &Path) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        for c in std::fs::read_dir(components)
            .expect("components/")
            .flatten()
        {
            walk(&c.path().join("src"), &mut files);
        }
        files.sort();
        files
    }

    /// `macro_rules!` macros whose bodies pass a `$metavariable` to a code
    /// taker: the position of that metavariable among the matcher's
    /// comma-separated parts. Every macro defined is added to `macros`.
    fn macro_takers(
        files: &[(String, syn::File)],
        takers: &Takers,
        macros: &mut BTreeSet<String>,
        found: &mut Takers,
    ) {
        struct Defs<'a>(&'a mut Vec<(String, TokenStream)>);
        impl<'ast> Visit<'ast> for Defs<'_> {
            fn visit_item_macro(&mut self, m: &'ast syn::ItemMacro) {
                if m.mac.path.is_ident("macro_rules") {
                    if let Some(id) = &m.ident {
                        self.0.push((id.to_string(), m.mac.tokens.clone()));
                    }
                }
                visit::visit_item_macro(self, m);
            }
        }
        let mut defs = Vec::new();
        for (_, f) in files {
            Defs(&mut defs).visit_file(f);
        }
        for (name, tokens) in defs {
            // Rules: `(matcher) => { body }`, separated by `;`.
            let trees: Vec<TokenTree> = tokens.into_iter().collect();
            let mut i = 0;
            while let (Some(TokenTree::Group(m)), Some(TokenTree::Group(body))) =
                (trees.get(i), trees.get(i + 3))
            {
                let parts: Vec<Vec<String>> =
                    split_commas(m.stream()).iter().map(metavariables).collect();
                let body_trees: Vec<TokenTree> = body.stream().into_iter().collect();
                for var in metavariable_codes(&body_trees, takers) {
                    if let Some(p) = parts.iter().position(|names| names.contains(&var)) {
                        found
                            .entry(Callee::Macro(name.clone()))
                            .or_default()
                            .insert(p);
                    }
                }
                i += 5; // matcher, `=`, `>`, body, `;`
            }
            macros.insert(name);
        }
    }

    /// The `$names` a macro body passes as a code to a known code taker.
    fn metavariable_codes(trees: &[TokenTree], takers: &Takers) -> Vec<String> {
        let mut out = Vec::new();
        for (i, t) in trees.iter().enumerate() {
            let TokenTree::Group(g) = t else { continue };
            if g.delimiter() == Delimiter::Parenthesis {
                let name = match trees[..i].last() {
                    Some(TokenTree::Ident(id)) => id.to_string(),
                    _ => String::new(),
                };
                let takes: Vec<usize> = takers
                    .iter()
                    .filter(|(c, _)| match c {
                        Callee::Assoc(_, n) | Callee::Free(_, n) | Callee::Method(n) => *n == name,
                        Callee::Macro(_) => false,
                    })
                    .flat_map(|(_, p)| p.iter().copied())
                    .collect();
                let args = split_commas(g.stream());
                for p in takes {
                    if let Some(arg) = args.get(p) {
                        let ts: Vec<TokenTree> = arg.clone().into_iter().collect();
                        if let [TokenTree::Punct(d), TokenTree::Ident(id)] = ts.as_slice() {
                            if d.as_char() == '$' {
                                out.push(id.to_string());
                            }
                        }
                    }
                }
            }
            let inner: Vec<TokenTree> = g.stream().into_iter().collect();
            out.extend(metavariable_codes(&inner, takers));
        }
        out
    }

    /// Scan `components/`: every code, where it is produced, and every code
    /// position the scan could not resolve.
    pub fn scan(components: &Path) -> Scan {
        let mut files = Vec::new();
        for path in sources(components) {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            let rel = path
                .strip_prefix(components)
                .unwrap_or(&path)
                .display()
                .to_string();
            files.push((rel, file));
        }
        // Start from nothing: the code positions of `Error` itself (its
        // struct literal and `.code =`) make its constructors code takers,
        // and so on outwards until nothing new is found.
        let defined = definitions(&files);
        let mut takers = Takers::new();
        loop {
            let mut scan = Scan::default();
            let mut macros = BTreeSet::new();
            let mut found = Takers::new();
            macro_takers(&files, &takers, &mut macros, &mut found);
            for (rel, file) in &files {
                let mut v = Visitor {
                    file: rel.clone(),
                    takers: &takers,
                    macros: &macros,
                    defined: &defined,
                    frames: Vec::new(),
                    impl_types: Vec::new(),
                    pending_closure_name: None,
                    scan: &mut scan,
                };
                v.visit_file(file);
            }
            for (c, p) in scan.found.iter() {
                found
                    .entry(c.clone())
                    .or_default()
                    .extend(p.iter().copied());
            }
            let mut next = takers.clone();
            for (c, p) in found {
                next.entry(c).or_default().extend(p);
            }
            if next == takers {
                scan.found = takers;
                return scan;
            }
            takers = next;
        }
    }
}

use echopilot_core::i18n::{self, Lang};
use std::collections::BTreeSet;

fn components_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_scan_finds_codes_wherever_they_are_made() {
    let scan = code_scan::scan(&components_dir());
    assert!(
        scan.failures.is_empty(),
        "code positions the scan cannot resolve (use a string literal, or pass the code through a parameter of a named function):\n{}",
        scan.failures.join("\n")
    );
    // The ways codes are made today, each found: constructors, fixed-code
    // constructors, `err.code =`, helper functions, named closures, match
    // arms and macro arguments.
    for (code, from) in [
        ("invalid_json", "core/src/http/body.rs"),
        ("unauthorized", "core/src/error.rs"),
        ("internal_error", "core/src/error.rs"),
        ("quota_exceeded", "core/src/identity/api_keys.rs"),
        ("invalid_type", "core/src/jobs/model.rs"),
        ("invalid_priority", "core/src/jobs/model.rs"),
        ("method_not_allowed", "core/src/http/router.rs"),
        ("database_busy", "core/src/ports/db.rs"),
    ] {
        let files = scan.codes.get(code);
        assert!(
            files.is_some_and(|f| f.contains(from)),
            "`{code}` not found in {from}: {files:?}"
        );
    }
    assert!(scan.codes.len() > 60, "{} codes", scan.codes.len());
}

#[test]
fn every_error_code_has_a_message_in_every_language_and_no_message_is_stale() {
    let scan = code_scan::scan(&components_dir());
    let produced: BTreeSet<&str> = scan.codes.keys().map(String::as_str).collect();
    let mut problems = Vec::new();
    for lang in Lang::ALL {
        let listed: BTreeSet<&str> = i18n::codes(lang).collect();
        for code in produced.difference(&listed) {
            problems.push(format!(
                "static/i18n/{}.json: errors.{code} is missing (made in {:?})",
                lang.tag(),
                scan.codes[*code]
            ));
        }
        for code in listed.difference(&produced) {
            problems.push(format!(
                "static/i18n/{}.json: errors.{code} is no code the API makes: remove it",
                lang.tag()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn translations_keep_the_placeholders_and_are_translated() {
    let mut problems = Vec::new();
    for code in i18n::codes(Lang::En) {
        let en = i18n::message(Lang::En, code).unwrap();
        let want: BTreeSet<&str> = i18n::placeholders(en).into_iter().collect();
        for lang in Lang::ALL {
            let Some(m) = i18n::message(lang, code) else {
                continue;
            };
            if m.trim().is_empty() {
                problems.push(format!("{}: {code} is empty", lang.tag()));
            }
            let got: BTreeSet<&str> = i18n::placeholders(m).into_iter().collect();
            if got != want {
                problems.push(format!(
                    "{}: {code} names {got:?}, English names {want:?}",
                    lang.tag()
                ));
            }
            // Urdu is written in the Arabic script: English left in the Urdu
            // catalogue is an untranslated message.
            if lang == Lang::Ur && !m.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)) {
                problems.push(format!("ur: {code} is not in Urdu: {m}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn placeholders_name_only_values_their_errors_carry() {
    // `{retry_after}` and `{allow}` are filled from the error; a code whose
    // message names one must always carry it.
    const CARRIED: &[(&str, &str)] = &[
        ("rate_limited", "retry_after"),
        ("quota_exceeded", "retry_after"),
        ("analytics_cap_reached", "retry_after"),
        ("intake_budget_exceeded", "retry_after"),
        ("sign_in_locked", "retry_after"),
        ("method_not_allowed", "allow"),
    ];
    for code in i18n::codes(Lang::En) {
        for name in i18n::placeholders(i18n::message(Lang::En, code).unwrap()) {
            assert!(
                CARRIED.contains(&(code, name)),
                "{code} names {{{name}}}, which its errors are not known to carry"
            );
        }
    }
}
