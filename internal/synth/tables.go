package synth

// The generator's vocabulary. Each list is in descending order of frequency:
// the generator draws from it with Zipf-like weights, so the first entry is
// the most common. A name whose ASCII e-mail spelling cannot be derived from
// its letters (other scripts, or letters without a decomposition such as ø
// or ł, which the tables below spell out anyway) carries it after '='.

// firstNames mixes English, Spanish, Portuguese, French, German, Nordic,
// Polish, Czech, Hungarian, Turkish, Irish, Greek, Russian, Arabic, Indian,
// West and East African, Vietnamese, Chinese, Japanese and Korean names;
// some are hyphenated, some in their own script.
var firstNames = []string{
	"James", "Maria", "Michael", "Sarah", "David", "Emily", "John", "Olivia",
	"Robert", "Jennifer", "José", "Ana", "Wei", "Priya", "Mohammed", "Fatima",
	"Daniel", "Laura", "Thomas", "Sophie", "Lucía", "Sofía", "Álvaro", "Martín",
	"Inés", "Jesús", "Ramón", "Begoña", "Íñigo", "João", "Luís", "Conceição",
	"François", "Hélène", "Zoé", "Anaïs", "Jérôme", "Anne-Marie", "Jean-Luc",
	"Marie-Claire", "Océane", "Noël", "Jürgen", "Jörg", "Günther", "Bärbel", "Uwe",
	"Björn", "Søren", "Åsa", "Ørjan", "Linnéa", "Þórdís", "Guðrún", "Łukasz",
	"Małgorzata", "Paweł", "Wojciech", "Zofia", "Bożena", "Jiří", "Tomáš",
	"Kateřina", "Zsófia", "Gergő", "İbrahim", "Işıl", "Çağla", "Gökhan", "Şule",
	"Ömer", "Siobhán", "Seán", "Aoife", "Niamh", "Pádraig", "Νίκος=nikos",
	"Ελένη=eleni", "Иван=ivan", "Ольга=olga", "Layla", "Omar", "Yusuf", "Aarav",
	"Ananya", "Rohan", "Chinedu", "Ngozi", "Oluwaseun", "Amani", "Zawadi", "Thảo",
	"Minh", "Phương", "Dũng", "Xiùlán", "伟=wei", "Haruto", "Yūki", "健太=kenta",
	"さくら=sakura", "Ji-woo", "Min-jun", "서연=seoyeon", "Emma", "Liam", "Noah",
	"Ava", "Isabella", "Lucas", "Mia", "Ethan", "Charlotte", "Amelia", "Elijah",
	"Harper", "Mateo", "Camila", "Leo", "Chloé", "Léa", "Hugo", "Mathéo", "Elif",
	"Zeynep", "Mehmet", "Aditi", "Vikram", "Kwame", "Ama", "Nomvula", "Thandiwe",
	"Kai", "Mei", "Hana", "Aiko", "Sven", "Ingrid", "Astrid", "Mikkel", "Freya",
	"Dagný", "Kristján", "Ákos", "Réka", "Bogdan", "Răzvan", "Ioana", "Dragoș",
	"Mary-Kate", "Jo", "Al", "Bo", "Ed",
}

// lastNames, with particles, apostrophes, hyphenated double names and names
// whose letters fold to ASCII in more than one way (ß, Ø, Ł).
var lastNames = []string{
	"Smith", "García", "Nguyễn=nguyen", "Müller", "Johnson", "Wang", "Kim", "Patel",
	"Rodríguez", "Williams", "Martínez", "Brown", "Hernández", "López", "Jones",
	"González", "Silva", "Santos", "Li", "Zhang", "Chen", "Liu", "Park", "Lee",
	"Pérez", "Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Álvarez", "Núñez",
	"Ibáñez", "Muñoz", "Castaño", "de la Cruz", "van der Berg", "O'Connor",
	"O'Brien", "O'Neill", "D'Angelo", "McDonald", "MacLeod", "Ó Súilleabháin",
	"Smith-Jones", "García-López", "Müller-Lüdenscheidt", "Al-Sayed", "El-Amin",
	"Schmidt", "Schneider", "Fischer", "Weiß", "Größe", "Meyer", "Wagner", "Becker",
	"Schäfer", "Koch", "Dubois", "Lefèvre", "Girard", "Lambert", "Fontaine",
	"Chevalier", "Rousseau", "Bernard", "Faure", "Kowalski", "Wiśniewski",
	"Wójcik", "Łukasiewicz=lukasiewicz", "Dąbrowski", "Nowak", "Novák", "Dvořák",
	"Černý", "Horváth", "Nagy", "Kovács", "Szabó", "Yılmaz", "Kaya", "Demir",
	"Şahin", "Çelik", "Öztürk", "Jensen", "Nielsen", "Hansen", "Andersson",
	"Johansson", "Karlsson", "Lindström", "Øvergaard=overgaard", "Håkansson",
	"Virtanen", "Mäkinen", "Korhonen", "Järvinen", "Sigurðsson=sigurdsson",
	"Papadopoulos", "Παπαδόπουλος=papadopoulos", "Ivanov", "Смирнов=smirnov",
	"Петрова=petrova", "Tanaka", "Suzuki", "Satō", "山田=yamada", "佐藤=sato",
	"王=wang", "이=lee", "Choi", "Sharma", "Singh", "Gupta", "Iyer", "Reddy",
	"Khan", "Haddad", "Abdullah", "Okafor", "Adeyemi", "Mensah", "Mwangi",
	"Oliveira", "Gonçalves", "Magalhães", "Ferreira", "Rossi", "Russo", "Esposito",
	"Bianchi", "Romano", "De Luca", "Trần=tran", "Lê=le", "Phạm=pham", "Taylor",
	"Anderson", "Thomas", "Moore", "Jackson", "Martin", "Thompson", "White",
	"Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
	"Wright", "Scott", "Hill", "Green", "Adams", "Nelson", "Baker", "Hall",
	"Campbell", "Mitchell", "Carter", "Roberts", "Popescu", "Ionescu", "Dumitrescu",
	"Zoë", "Ng", "Wu", "Ho",
}

// departments are the ~30 department names, most common first.
var departments = []string{
	"Engineering", "Sales", "Customer Success", "Operations", "Marketing",
	"Support", "Product", "Finance", "People", "Legal", "IT", "Security",
	"Data Science", "Design", "Recherche & Développement", "Business Development",
	"Facilities", "Procurement", "Quality Assurance", "Supply Chain",
	"Manufacturing", "Logistics", "Comunicación", "Partnerships",
	"Investor Relations", "Internal Audit", "Compliance", "Strategy",
	"Executive Office", "Public Policy",
}

// divisions are the 8 division names.
var divisions = []string{
	"Americas", "EMEA", "APAC", "LATAM", "DACH", "Nordics", "Corporate", "Public Sector",
}

// An office is a locality with its address and the division it belongs to
// (an index into divisions).
type office struct {
	locality, street, region, postal, country string
	division                                  int
}

// offices are the ~40 offices, most staffed first.
var offices = []office{
	{"New York", "1 Liberty Plaza", "NY", "10006", "US", 0},
	{"San Francisco", "500 Howard St", "CA", "94105", "US", 0},
	{"London", "30 St Mary Axe", "England", "EC3A 8BF", "GB", 1},
	{"Austin", "200 Main St", "TX", "78701", "US", 0},
	{"Berlin", "Friedrichstraße 68", "Berlin", "10117", "DE", 4},
	{"Bengaluru", "MG Road 42", "Karnataka", "560001", "IN", 2},
	{"São Paulo", "Avenida Paulista 1000", "SP", "01310-100", "BR", 3},
	{"Dublin", "1 Grand Canal Square", "Leinster", "D02 P820", "IE", 1},
	{"Paris", "15 Rue de la Paix", "Île-de-France", "75002", "FR", 1},
	{"Toronto", "100 King St W", "ON", "M5X 1A9", "CA", 0},
	{"Singapore", "1 Raffles Place", "", "048616", "SG", 2},
	{"München", "Leopoldstraße 8", "Bayern", "80802", "DE", 4},
	{"Tokyo", "2-1-1 Marunouchi", "Tokyo", "100-0005", "JP", 2},
	{"Chicago", "233 S Wacker Dr", "IL", "60606", "US", 0},
	{"Seattle", "1201 2nd Ave", "WA", "98101", "US", 0},
	{"Amsterdam", "Herengracht 182", "Noord-Holland", "1016 BR", "NL", 1},
	{"Stockholm", "Drottninggatan 33", "Stockholm", "111 51", "SE", 5},
	{"Zürich", "Bahnhofstrasse 45", "ZH", "8001", "CH", 4},
	{"Madrid", "Calle de Alcalá 48", "Madrid", "28014", "ES", 1},
	{"Ciudad de México", "Paseo de la Reforma 222", "CDMX", "06600", "MX", 3},
	{"Sydney", "1 Martin Pl", "NSW", "2000", "AU", 2},
	{"Montréal", "1250 Boulevard René-Lévesque", "QC", "H3B 4W8", "CA", 0},
	{"Kraków", "ulica Floriańska 15", "Małopolska", "31-019", "PL", 1},
	{"København", "Strøget 12", "Hovedstaden", "1160", "DK", 5},
	{"Boston", "100 Federal St", "MA", "02110", "US", 0},
	{"Wien", "Kärntner Straße 19", "Wien", "1010", "AT", 4},
	{"Bogotá", "Carrera 7 71-21", "Cundinamarca", "110231", "CO", 3},
	{"İstanbul", "İstiklal Caddesi 120", "İstanbul", "34433", "TR", 1},
	{"Oslo", "Karl Johans gate 22", "Oslo", "0159", "NO", 5},
	{"Seoul", "110 Sejong-daero", "Seoul", "04524", "KR", 2},
	{"Malmö", "Stortorget 9", "Skåne", "211 34", "SE", 5},
	{"Düsseldorf", "Königsallee 92", "NRW", "40212", "DE", 4},
	{"Lisboa", "Avenida da Liberdade 110", "Lisboa", "1250-146", "PT", 1},
	{"Buenos Aires", "Avenida Corrientes 800", "CABA", "C1043", "AR", 3},
	{"Nairobi", "Kenyatta Avenue 14", "Nairobi", "00100", "KE", 1},
	{"Helsinki", "Mannerheimintie 10", "Uusimaa", "00100", "FI", 5},
	{"Reykjavík", "Laugavegur 26", "Höfuðborgarsvæðið", "101", "IS", 5},
	{"Hồ Chí Minh City", "Đường Lê Lợi 65", "", "700000", "VN", 2},
	{"Washington", "1 Thomas Circle NW", "DC", "20005", "US", 7},
	{"Denver", "1700 Lincoln St", "CO", "80203", "US", 0},
}

// titles holds each department's roles; levels prefix them.
var roles = map[string][]string{
	"Engineering":               {"Software Engineer", "Site Reliability Engineer", "Engineering Manager", "QA Engineer", "Mobile Engineer"},
	"Sales":                     {"Account Executive", "Sales Development Representative", "Sales Engineer", "Regional Sales Director"},
	"Customer Success":          {"Customer Success Manager", "Onboarding Lead", "Renewals Specialist"},
	"Operations":                {"Operations Analyst", "Program Manager", "Operations Manager"},
	"Marketing":                 {"Product Marketing Manager", "Content Strategist", "Growth Marketer", "Brand Designer"},
	"Support":                   {"Support Engineer", "Support Specialist", "Support Team Lead"},
	"Product":                   {"Product Manager", "Product Owner", "Technical Product Manager"},
	"Finance":                   {"Accountant", "Financial Analyst", "Controller", "Payroll Specialist"},
	"People":                    {"Recruiter", "HR Business Partner", "People Operations Specialist"},
	"Legal":                     {"Counsel", "Paralegal", "Contracts Manager"},
	"IT":                        {"IT Administrator", "Help Desk Technician", "Systems Engineer"},
	"Security":                  {"Security Engineer", "Security Analyst", "GRC Specialist"},
	"Data Science":              {"Data Scientist", "Data Analyst", "Machine Learning Engineer"},
	"Design":                    {"Product Designer", "UX Researcher", "Design Manager"},
	"Recherche & Développement": {"Ingénieur de recherche", "Chercheuse", "Responsable R&D"},
	"Comunicación":              {"Responsable de Comunicación", "Community Manager", "Redactora"},
}

// genericRoles serve the departments roles does not list.
var genericRoles = []string{"Analyst", "Specialist", "Coordinator", "Manager"}

// levels prefix roles, most common first.
var levels = []string{"", "Senior ", "Junior ", "Staff ", "Lead ", "Principal "}

// teams holds each department's teams.
var teams = map[string][]string{
	"Engineering":      {"Platform", "Mobile", "Web", "Infrastructure", "Payments", "Search", "Data Platform", "Developer Experience"},
	"Sales":            {"Enterprise", "Mid-Market", "SMB", "Sales Ops"},
	"Customer Success": {"Onboarding", "Renewals", "Strategic Accounts"},
	"Marketing":        {"Growth", "Brand", "Product Marketing", "Events"},
	"Support":          {"Tier 1", "Tier 2", "Escalations"},
	"Product":          {"Core", "Growth", "Mobile"},
	"Security":         {"AppSec", "Détection & Réponse", "GRC"},
}

// genericTeams serve the departments teams does not list.
var genericTeams = []string{"Core", "Enablement", "Équipe Alpha"}

// employeeTypes with their weights in percent.
var employeeTypes = []struct {
	name   string
	weight int
}{{"Full-time", 84}, {"Contractor", 8}, {"Part-time", 5}, {"Intern", 3}}

// groupNames are the first group names; more are numbered projects.
var groupNames = []string{
	"All Employees", "Engineering", "Managers", "On-call", "Admins", "Sales Team",
	"New York Office", "London Office", "Berlin Office", "Remote", "Book Club",
	"Women in Tech", "Pride@Work", "Parents", "Équipe Paris", "São Paulo Crew",
	"München Stammtisch", "Hackathon 2026", "Security Champions", "Leadership",
	"Interviewers", "Mentors", "Design Guild", "Data Guild", "Frontend Guild",
	"Backend Guild", "Customer Advisory Board", "Social Committee", "Green Team",
	"Runners' Club",
}

// projectNames number further groups.
var projectNames = []string{"Project Phoenix", "Project Atlas", "Project Nova", "Project Orion", "Project Zephyr", "Project Ñandú"}
